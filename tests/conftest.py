"""Shared fixtures: no real network, and every storage test on both databases."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
POSTGRES_URL = os.environ.get("PLN_TEST_DATABASE_URL", "")
# Set by .ci/run: there, a test whose server is missing fails instead of skipping,
# so a green run always carries the real-server coverage.
REQUIRE_SERVERS = os.environ.get("PLN_REQUIRE_SERVERS") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.needs_server(available, reason)`: skip, or fail in CI, without the server."""
    for mark in item.iter_markers("needs_server"):
        available, reason = mark.args
        if not available:
            missing_server(reason)


def missing_server(reason: str) -> None:
    """Inside a fixture: the same rule as `needs_server`, once the server is known missing."""
    if REQUIRE_SERVERS:
        pytest.fail(f"required server missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    """Refuse any connection that leaves the machine: tests never reach the network."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.needs_server(
                bool(POSTGRES_URL),
                "PLN_TEST_DATABASE_URL is not set: PostgreSQL storage tests skipped",
            ),
        ),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, then PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pln.db'}"
    else:
        _reset_postgres(POSTGRES_URL)
        yield POSTGRES_URL

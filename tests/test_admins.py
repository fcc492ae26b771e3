"""Admin accounts on SQLite and PostgreSQL: argon2 hashes, sessions, the limit on guessing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from aggregator.app import admins
from aggregator.app.admins import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    SESSION_LIFETIME,
    SignInRefused,
    create_admin,
    session_admin,
    sign_in,
    sign_out,
)
from aggregator.app.wiring import App, build_app
from aggregator.domain.errors import PLNError
from tests.fakes import FixedClock, make_config

PASSWORD = "a long enough password"
# argon2id at its cheapest, so the tests of everything else stay fast; the
# tests of the hash itself undo it and use the real cost.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admins, "_hasher", lambda: CHEAP)
    monkeypatch.setattr(admins, "_decoy_hash", lambda: CHEAP.hash("decoy"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(db_url: str, clock: FixedClock) -> Iterator[App]:
    with build_app(make_config(db_url, ["blog"]), clock, connectors={}) as built:
        yield built


def no_sleep(seconds: float) -> None:
    pass


def test_the_password_is_stored_as_an_argon2id_hash_only(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the real cost
    assert create_admin(app, " IT@School.org ", PASSWORD) == ("it@school.org", True)
    stored = app.repo.admin_password_hash("it@school.org")
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_sign_in_gives_a_session_that_sign_out_ends(app: App) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    signed_in = sign_in(app, "It@School.org", PASSWORD, "192.0.2.1", no_sleep)
    assert signed_in is not None and signed_in.email == "it@school.org"
    assert session_admin(app, signed_in.token) == "it@school.org"
    other = sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep)
    assert other is not None and other.token != signed_in.token
    sign_out(app, signed_in.token)
    assert session_admin(app, signed_in.token) is None
    assert session_admin(app, other.token) == "it@school.org"  # only that session ended


def test_a_session_expires(app: App, clock: FixedClock) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    signed_in = sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep)
    assert signed_in is not None
    clock.advance(seconds=SESSION_LIFETIME.total_seconds() - 1)
    assert session_admin(app, signed_in.token) == "it@school.org"
    clock.advance(seconds=2)
    assert session_admin(app, signed_in.token) is None


def test_a_new_password_ends_every_session(app: App) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    signed_in = sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep)
    assert signed_in is not None
    assert create_admin(app, "it@school.org", "another long password") == ("it@school.org", False)
    assert session_admin(app, signed_in.token) is None
    assert sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep) is None


def test_a_hash_made_cheaper_than_today_is_upgraded_at_sign_in(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    old = app.repo.admin_password_hash("it@school.org")
    monkeypatch.undo()  # today's cost
    assert sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep) is not None
    new = app.repo.admin_password_hash("it@school.org")
    assert new != old and new is not None and not PasswordHasher().check_needs_rehash(new)


def test_failures_are_slowed_more_each_time_then_refused(app: App, clock: FixedClock) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    delays: list[float] = []
    for _ in range(MAX_FAILURES):
        assert sign_in(app, "it@school.org", "guess", "192.0.2.1", delays.append) is None
    assert delays == sorted(delays) and delays[0] < delays[-1] <= admins.MAX_DELAY_S
    with pytest.raises(SignInRefused, match="too many failed sign-ins"):
        sign_in(app, "it@school.org", PASSWORD, "198.51.100.9", no_sleep)
    clock.advance(seconds=FAILURE_WINDOW.total_seconds() + 1)
    assert sign_in(app, "it@school.org", PASSWORD, "198.51.100.9", no_sleep) is not None


def test_a_success_clears_the_accounts_failures(app: App) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        sign_in(app, "it@school.org", "guess", "192.0.2.1", no_sleep)
    assert sign_in(app, "it@school.org", PASSWORD, "192.0.2.2", no_sleep) is not None
    assert sign_in(app, "it@school.org", "guess", "192.0.2.3", no_sleep) is None
    assert sign_in(app, "it@school.org", PASSWORD, "192.0.2.3", no_sleep) is not None


def test_guesses_at_many_accounts_from_one_address_are_refused(app: App) -> None:
    create_admin(app, "it@school.org", PASSWORD)
    for n in range(MAX_FAILURES):
        assert sign_in(app, f"x{n}@school.org", "guess", "192.0.2.66", no_sleep) is None
    with pytest.raises(SignInRefused):
        sign_in(app, "it@school.org", PASSWORD, "192.0.2.66", no_sleep)
    assert sign_in(app, "it@school.org", PASSWORD, "192.0.2.1", no_sleep) is not None


def test_a_huge_account_name_is_counted_not_crashed_on(app: App) -> None:
    assert sign_in(app, "x" * 5000 + "@school.org", "guess", "192.0.2.1" * 20, no_sleep) is None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [("it@school.org", "short", "at least 10"), ("it", PASSWORD, "'it'")],
)
def test_create_admin_refuses_bad_input(app: App, email: str, password: str, message: str) -> None:
    with pytest.raises(PLNError, match=message):
        create_admin(app, email, password)
    assert app.repo.admin_count() == 0

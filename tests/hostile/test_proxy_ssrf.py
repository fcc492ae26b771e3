"""A feed may not reach a loopback or private address by spelling it oddly,
whether the service connects directly or through the school's web proxy.

Behind a proxy the connection goes to the proxy, so the address check at
connect time never sees the target: the URL itself must be judged, in every
spelling the system resolver reads, before anything is sent to the proxy.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
from tests.hostile.server import ForwardingProxy, HostileServer

GOOD_FEED = Path(__file__).parent.parent / "data" / "feeds" / "reader" / "full.rss"
SECRET_PAGE = (
    b"<rss version='2.0'><channel><item><title>internal only</title></item></channel></rss>"
)
NAME = "intranet.school.test"
# 127.0.0.1 as the resolver also reads it
SPELLINGS = {
    "decimal": "2130706433",
    "octal": "0177.0.0.1",
    "hex": "0x7f.0.0.1",
    "short": "127.1",
    "ipv4-mapped-ipv6": "[::ffff:127.0.0.1]",
    "localhost": "localhost",
}


@pytest.fixture
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    """A feed host the configuration allows, and a loopback-only page it does not."""
    with HostileServer() as feeds, HostileServer() as internal:
        internal.static("/secret.rss", "application/rss+xml", SECRET_PAGE)
        yield feeds, internal


def _fetch_redirect(tmp_path: Path, feeds: HostileServer, target: str, allowed: list[str]) -> str:
    feeds.redirect("/moved.rss", target)
    config = tmp_path / "pln.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "pln.db"}"\n\n'
        f"[fetch]\ntimeout_seconds = 3\nallow_private = {allowed!r}\n\n"
        f'[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "{feeds.url("/moved.rss")}"\n'.replace(
            "'", '"'
        )
    )
    with build_app(load_config(config)) as app:
        (outcome,) = fetch_sources(app)
        assert sum(s.posts_stored for s in app.repo.source_statuses()) == 0
    assert outcome.error is not None
    return outcome.error


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_redirect_to_loopback_in_any_spelling_is_refused_when_connecting_directly(
    tmp_path: Path, servers: tuple[HostileServer, HostileServer], spelling: str
) -> None:
    feeds, internal = servers
    target = f"http://{spelling}:{internal.port}/secret.rss"

    error = _fetch_redirect(tmp_path, feeds, target, [f"127.0.0.1:{feeds.port}"])

    assert error.startswith(f"refused to connect to {spelling.strip('[]')}:{internal.port} (")
    assert error.endswith("list it in fetch.allow_private if this is intended")
    assert internal.requested == []


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_redirect_to_loopback_in_any_spelling_is_refused_behind_a_proxy(
    tmp_path: Path,
    servers: tuple[HostileServer, HostileServer],
    spelling: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds, internal = servers
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        target = f"http://{spelling}:{internal.port}/secret.rss"

        error = _fetch_redirect(tmp_path, feeds, target, [f"127.0.0.1:{feeds.port}"])

        assert proxy.requested == [feeds.url("/moved.rss")]  # the feed went through the proxy
    assert error.startswith(f"refused to connect to {spelling.strip('[]')}:{internal.port} (")
    assert internal.requested == []


def test_behind_a_proxy_a_name_resolving_to_a_private_address_is_refused(
    tmp_path: Path,
    servers: tuple[HostileServer, HostileServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds, internal = servers
    real_getaddrinfo = socket.getaddrinfo

    def school_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        # A name on the school's network that points at this machine.
        return real_getaddrinfo("127.0.0.1" if host == NAME else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", school_dns)
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        target = f"http://{NAME}:{internal.port}/secret.rss"

        error = _fetch_redirect(tmp_path, feeds, target, [f"127.0.0.1:{feeds.port}"])

    assert error.startswith(f"refused to connect to {NAME}:{internal.port} (127.0.0.1 is")
    assert internal.requested == []


def test_behind_a_proxy_an_allowed_feed_is_still_fetched(
    tmp_path: Path, servers: tuple[HostileServer, HostileServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds, _ = servers
    feeds.static("/good.rss", "application/rss+xml", GOOD_FEED.read_bytes())
    with ForwardingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        config = tmp_path / "pln.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{tmp_path / "pln.db"}"\n\n'
            f'[fetch]\nallow_private = ["127.0.0.1:{feeds.port}"]\n\n'
            f'[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "{feeds.url("/good.rss")}"\n'
        )
        with build_app(load_config(config)) as app:
            (outcome,) = fetch_sources(app)

        assert outcome.error is None and outcome.new_posts > 0
        assert proxy.requested == [feeds.url("/good.rss")]

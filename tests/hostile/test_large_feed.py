"""A 10,000-item feed goes through the real path in batches (issue #6, resource bounds)."""

from __future__ import annotations

from email.utils import format_datetime
from pathlib import Path

from aggregator import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
from aggregator.run.demo.server import FeedServer
from tests.fakes import T0

ITEMS = 10_000


def _huge_feed() -> bytes:
    date = format_datetime(T0)
    items = "".join(
        f"<item><guid isPermaLink='false'>item-{n}</guid><title>Idea {n}</title>"
        f"<link>https://blog.example.org/{n}</link><pubDate>{date}</pubDate>"
        f"<description>&lt;p&gt;Exit ticket number {n}.&lt;/p&gt;</description></item>"
        for n in range(ITEMS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        f"{items}</channel></rss>"
    ).encode()


def test_a_ten_thousand_item_feed_is_stored_once_in_batches(tmp_path: Path) -> None:
    with FeedServer({"/big.xml": ("application/rss+xml", _huge_feed())}) as server:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{tmp_path / "pln.db"}"\n'
            f'[fetch]\nallow_private = ["127.0.0.1:{server.port}"]\n'
            f'[[sources]]\nkey = "big"\nkind = "rss"\nurl = "{server.base_url}/big.xml"\n',
            encoding="utf-8",
        )
        with build_app(load_config(config)) as app:
            (first,) = fetch_sources(app)
            server.set_route(
                "/big.xml",
                "application/rss+xml",
                _huge_feed().replace(b"Exit ticket number 7.", b"Exit ticket 7, revised."),
            )
            (second,) = fetch_sources(app)
            (status,) = app.repo.source_statuses()

    assert (first.status, first.new_posts) == ("ok", ITEMS)
    assert (second.new_posts, second.updated_posts) == (0, 1)  # only the changed item is parsed
    assert status.posts_stored == ITEMS and status.last_error is None

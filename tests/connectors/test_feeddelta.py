"""Unchanged items are not parsed again, and skipping never changes the result."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.rss.connector import parse_new_items
from connectors.rss.delta import known_items, trim_known
from connectors.rss.parse import parse_feed

FEEDS = Path(__file__).parent.parent / "data" / "feeds"
NOW = datetime(2026, 9, 1, tzinfo=UTC)
URL = "https://blog.example.org/feed.xml"
REAL_FEEDS = sorted((FEEDS / "real-world").glob("*.xml"))


def rss(*items: str) -> bytes:
    body = "".join(
        f'<item><guid isPermaLink="false">{i}</guid><title>{i.title()}</title><link>https://b.example/{i}</link>'
        f"<description>About {i}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>'
        f"<language>en</language>{body}</channel></rss>"
    ).encode()


def parse(body: bytes, cursor: str | None):
    parsed, new_cursor = parse_new_items("blog", body, "application/rss+xml", URL, NOW, cursor)
    return parsed.posts, new_cursor


@pytest.mark.parametrize("path", REAL_FEEDS, ids=lambda p: p.name)
def test_a_first_fetch_parses_everything_and_a_refetch_nothing(path: Path) -> None:
    body = path.read_bytes()
    full = parse_feed("blog", body, "application/xml", URL, NOW)
    first, cursor = parse(body, None)
    again, same_cursor = parse(body, cursor)
    assert first == full
    assert again == () and same_cursor == cursor


def test_only_new_and_changed_items_are_parsed_with_the_feed_context() -> None:
    _, cursor = parse(rss("apples", "pears", "plums"), None)
    day2 = rss("figs", "apples", "pears", "plums").replace(b"About pears", b"About pears, revised")
    posts, _ = parse(day2, cursor)
    assert sorted(p.external_id for p in posts) == ["figs", "pears"]
    assert {p.language for p in posts} == {"en"}  # the channel head was kept
    assert next(p for p in posts if p.external_id == "pears").text == "About pears, revised"


def test_items_that_cannot_be_located_surely_are_all_parsed() -> None:
    tricky = rss("a", "b").replace(
        b"<description>About a</description>",
        b"<description><![CDATA[<p>an </item> inside CDATA</p>]]></description>",
    )
    delta = trim_known(tricky, frozenset())
    assert delta.document == tricky and delta.cursor is None
    posts, cursor = parse(tricky, None)
    assert [p.external_id for p in posts] == ["a", "b"] and cursor is None


def test_json_feeds_are_always_parsed_whole() -> None:
    body = (FEEDS / "jsonfeed" / "reader_full.json").read_bytes()
    delta = trim_known(body, frozenset())
    assert delta.document == body and known_items(delta.cursor) == frozenset()


def test_a_foreign_cursor_is_ignored() -> None:
    assert known_items("some-other-connector-cursor") == frozenset()
    posts, _ = parse(rss("a"), "since_id:123")
    assert [p.external_id for p in posts] == ["a"]

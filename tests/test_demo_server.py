"""The loopback feed server and the sample feeds shipped for `pln demo`."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from importlib.resources import files

import feedparser
import pytest
import requests

from aggregator.run.demo.server import FeedServer, demo_feeds, render_template

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"
FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer({"/feed.xml": (RSS, FEED)}) as srv:
        yield srv


def get(server: FeedServer, path: str = "/feed.xml", **headers: str) -> requests.Response:
    return requests.get(server.base_url + path, headers=headers, timeout=5)


def test_serves_body_with_validators_on_loopback(server: FeedServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    response = get(server)
    assert response.status_code == 200
    assert response.content == FEED
    assert response.headers["Content-Type"] == RSS
    assert response.headers["ETag"].startswith('"')  # strong, not W/
    parsedate_to_datetime(response.headers["Last-Modified"])


def test_matching_etag_gets_304_without_body(server: FeedServer) -> None:
    etag = get(server).headers["ETag"]
    again = get(server, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert get(server, **{"If-None-Match": '"something-else"'}).status_code == 200


def test_if_modified_since(server: FeedServer) -> None:
    last_modified = get(server).headers["Last-Modified"]
    assert get(server, **{"If-Modified-Since": last_modified}).status_code == 304
    earlier = parsedate_to_datetime(last_modified) - timedelta(seconds=1)
    earlier_header = format_datetime(earlier, usegmt=True)
    assert get(server, **{"If-Modified-Since": earlier_header}).status_code == 200
    assert get(server, **{"If-Modified-Since": "not a date"}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(server: FeedServer) -> None:
    last_modified = get(server).headers["Last-Modified"]
    response = get(server, **{"If-None-Match": '"stale"', "If-Modified-Since": last_modified})
    assert response.status_code == 200


def test_changed_body_gets_new_validators(server: FeedServer) -> None:
    first = get(server)
    server.set_route("/feed.xml", RSS, FEED.replace(b"<title>t", b"<title>day 2"))
    second = get(server, **{"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert b"day 2" in second.content
    assert second.headers["ETag"] != first.headers["ETag"]
    later = parsedate_to_datetime(second.headers["Last-Modified"])
    assert later > parsedate_to_datetime(first.headers["Last-Modified"])
    stale = get(server, **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert stale.status_code == 200


def test_callable_body_is_produced_per_request() -> None:
    calls: list[int] = []

    def body() -> bytes:
        calls.append(1)
        return FEED

    with FeedServer({"/live": (RSS, body)}) as srv:
        assert get(srv, "/live").content == FEED
        assert get(srv, "/live").content == FEED
    assert len(calls) == 2


def test_unknown_path_is_404_and_requests_are_counted(server: FeedServer) -> None:
    etag = get(server).headers["ETag"]
    get(server, **{"If-None-Match": etag})
    assert get(server, "/nope.xml").status_code == 404
    assert server.request_count == 3
    assert server.status_counts() == {200: 1, 304: 1, 404: 1}


def test_latency_delays_each_response() -> None:
    with FeedServer({"/feed.xml": (RSS, FEED)}, latency_s=0.15) as srv:
        started = time.monotonic()
        get(srv)
        assert time.monotonic() - started >= 0.15


def test_render_template_formats_dates_for_rss_and_atom() -> None:
    text = "<a>{{hours_ago:2}}</a><b>{{hours_ago:0.5}}</b>"
    assert render_template(text, NOW, "rfc822") == (
        "<a>Tue, 10 Mar 2026 10:00:00 GMT</a><b>Tue, 10 Mar 2026 11:30:00 GMT</b>"
    )
    assert render_template(text, NOW, "rfc3339") == (
        "<a>2026-03-10T10:00:00Z</a><b>2026-03-10T11:30:00Z</b>"
    )
    with pytest.raises(ValueError):
        render_template(text, datetime(2026, 3, 10), "rfc822")


DEMO = demo_feeds(NOW)


def test_demo_ships_several_feeds_of_each_kind() -> None:
    kinds = {content_type.split(";")[0] for content_type, _ in DEMO.values()}
    assert kinds == {"application/rss+xml", "application/atom+xml", "application/feed+json"}
    assert len(DEMO) >= 6


def _entries_and_dates(path: str) -> tuple[list[dict[str, object]], list[datetime]]:
    content_type, body = DEMO[path]
    assert b"{{" not in body, "a date placeholder was left in"
    if path.endswith(".json"):
        items = json.loads(body)["items"]
        return items, [datetime.fromisoformat(i["date_published"]) for i in items]
    parsed = feedparser.parse(body, response_headers={"content-type": content_type})
    assert not parsed.bozo, parsed.get("bozo_exception")
    dates = [datetime(*e.published_parsed[:6], tzinfo=UTC) for e in parsed.entries]
    return list(parsed.entries), dates


@pytest.mark.parametrize("path", sorted(DEMO))
def test_each_demo_feed_parses_with_recent_dates(path: str) -> None:
    entries, dates = _entries_and_dates(path)
    assert len(entries) >= 5
    assert len(dates) == len(entries)
    for published_at in dates:
        assert NOW - timedelta(hours=31) <= published_at <= NOW


def test_demo_config_points_at_every_shipped_feed() -> None:
    template = files("aggregator.run.demo").joinpath("demo.toml").read_text(encoding="utf-8")
    config = tomllib.loads(template.format(port=8123, db_url="sqlite:///demo.db"))
    assert config["fetch"]["allow_private"] == ["127.0.0.1:8123"]
    urls = {s["url"].removeprefix("http://127.0.0.1:8123") for s in config["sources"]}
    assert urls == set(DEMO)
    keys = {s["key"] for s in config["sources"]}
    for recipient in config["recipients"]:
        assert set(recipient["follow"]) <= keys


def test_demo_feeds_share_an_item_url_to_show_dedupe() -> None:
    urls_by_feed = []
    for path in DEMO:
        entries, _ = _entries_and_dates(path)
        urls_by_feed.append({str(e.get("url") or e.get("link")) for e in entries})
    seen: set[str] = set()
    shared = set()
    for urls in urls_by_feed:
        shared |= seen & urls
        seen |= urls
    assert len(shared) >= 2


def test_hostile_sample_carries_the_markup_sanitising_must_remove() -> None:
    body = DEMO["/feeds/classroom-freebies.rss"][1].decode()
    for marker in ("<script", "onerror=", "javascript:", 'width="1" height="1"', "<iframe"):
        assert marker in body

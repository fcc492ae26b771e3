"""Properties of ingest (hypothesis): storing is idempotent, changes update in
place, and the feed parser fails only with ParseError whatever the bytes."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.domain.errors import ParseError
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult, SourceConfig
from aggregator.store.repository import Repository
from connectors.rss.parse import parse_feed
from tests.fakes import T0, make_post

FAR = (T0 - timedelta(days=3650), T0 + timedelta(days=3650))
NOW = datetime(2026, 9, 1, tzinfo=UTC)
FEEDS = Path(__file__).parent / "data" / "feeds"

# (id number, text, title): few ids, so batches repeat ids; few texts, so items
# sometimes come back unchanged and sometimes changed.
_ITEM = st.tuples(
    st.integers(0, 7),
    st.sampled_from(["", "Exit tickets.", "Exit tickets, revised.", "Ünïcödé ✓", "<b>x</b> & y"]),
    st.sampled_from([None, "", "Idea", "Idée"]),
)
_BATCH = st.lists(_ITEM, max_size=12)


def _posts(key: str, batch: list[tuple[int, str, str | None]]) -> tuple[Post, ...]:
    return tuple(
        make_post(key, n, text=text, title=title, at=T0 - timedelta(hours=n))
        for n, text, title in batch
    )


def _snapshot(repo: Repository, key: str) -> dict[str, tuple[object, ...]]:
    return {
        p.external_id: (p.title, p.text, p.html, p.content_hash, p.links, p.published_at)
        for p in repo.posts_for_digest([key], *FAR)
    }


def _row_ids(db: Path, key: str) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT external_id, id FROM posts WHERE source_key = ?", (key,)))


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[Repository, Path, Iterator[str]]]:
    """One SQLite file for all examples of a test; each example uses a fresh source key."""
    db = tmp_path / "pln.db"
    with Repository.open(f"sqlite:///{db}") as opened:
        yield opened, db, (f"src-{n}" for n in itertools.count())


def _new_source(repo: Repository, keys: Iterator[str]) -> str:
    key = next(keys)
    repo.sync_sources(
        [SourceConfig(key=key, kind="rss", options=(("url", "https://x.example/"),))], T0
    )
    return key


_EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_saving_a_batch_twice_equals_saving_it_once(
    repo: tuple[Repository, Path, Iterator[str]],
) -> None:
    store, db, keys = repo

    @_EXAMPLES
    @given(batch=_BATCH)
    def check(batch: list[tuple[int, str, str | None]]) -> None:
        key = _new_source(store, keys)
        posts = _posts(key, batch)
        new, updated = store.save_fetch(key, FetchResult(posts=posts), T0, T0)
        once, ids_once = _snapshot(store, key), _row_ids(db, key)
        assert (new, updated) == (len({p.external_id for p in posts}), 0)
        assert store.save_fetch(key, FetchResult(posts=posts), T0, T0) == (0, 0)
        assert _snapshot(store, key) == once and _row_ids(db, key) == ids_once
        # Within a batch the last occurrence of an id wins.
        last = {p.external_id: p for p in posts}
        assert {i: s[1] for i, s in once.items()} == {i: p.text for i, p in last.items()}

    check()


def test_a_changed_item_updates_in_place(repo: tuple[Repository, Path, Iterator[str]]) -> None:
    store, db, keys = repo

    @_EXAMPLES
    @given(first=_BATCH, second=_BATCH)
    def check(
        first: list[tuple[int, str, str | None]], second: list[tuple[int, str, str | None]]
    ) -> None:
        key = _new_source(store, keys)
        before_posts, after_posts = _posts(key, first), _posts(key, second)
        store.save_fetch(key, FetchResult(posts=before_posts), T0, T0)
        before, ids_before = _snapshot(store, key), _row_ids(db, key)
        new, updated = store.save_fetch(key, FetchResult(posts=after_posts), T0, T0)
        after, ids_after = _snapshot(store, key), _row_ids(db, key)
        latest = {p.external_id: p for p in after_posts}
        changed = {i for i, p in latest.items() if i in before and before[i][3] != p.content_hash}
        assert (new, updated) == (len(latest.keys() - before.keys()), len(changed))
        assert after.keys() == before.keys() | latest.keys()  # nothing lost, nothing doubled
        assert all(ids_after[i] == ids_before[i] for i in ids_before)  # same rows, updated in place
        for external_id, post in latest.items():
            assert after[external_id][1:4] == (post.text, post.html, post.content_hash)
        for external_id in before.keys() - latest.keys():
            assert after[external_id] == before[external_id]

    check()


# -- the parser ---------------------------------------------------------------------

_REAL = [p.read_bytes() for p in sorted((FEEDS / "reader").iterdir())] + [
    (FEEDS / "jsonfeed" / "reader_full.json").read_bytes(),
    (FEEDS / "podcasts" / "image_and_audio.rss").read_bytes(),
]
_CONTENT_TYPES = st.sampled_from(
    [
        "",
        "application/rss+xml",
        "text/xml",
        "text/html",
        "application/xml; charset=utf-16",
        "application/feed+json",
        "application/atom+xml; charset=x-bogus",
    ]
)


def _parses_or_parse_error(body: bytes, content_type: str) -> None:
    try:
        posts = parse_feed("blog", body, content_type, "https://blog.example.org/feed", NOW)
    except ParseError as exc:
        assert exc.source_key == "blog" and exc.message and "\n" not in exc.message
        return
    for post in posts:
        assert post.published_at <= NOW and post.published_at.tzinfo is not None
        assert "<script" not in post.html.lower()


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2000), content_type=_CONTENT_TYPES)
def test_parse_feed_fails_only_with_parse_error_on_any_bytes(
    body: bytes, content_type: str
) -> None:
    _parses_or_parse_error(body, content_type)


@settings(max_examples=150, deadline=None)
@given(
    feed=st.sampled_from(_REAL),
    cut=st.integers(0, 100_000),
    insert=st.binary(max_size=40)
    | st.sampled_from(
        [
            b"<!ENTITY a 'x'>",
            b"<![CDATA[",
            b"]]>",
            b"</item>",
            b"<item>",
            b"&#0;",
            b"&amp",
            b"\x00\xff",
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            b"<!DOCTYPE x [",
            b"\xef\xbb\xbf",
        ]
    ),
    content_type=_CONTENT_TYPES,
)
def test_parse_feed_fails_only_with_parse_error_on_mutated_feeds(
    feed: bytes, cut: int, insert: bytes, content_type: str
) -> None:
    at = cut % (len(feed) + 1)
    _parses_or_parse_error(feed[:at] + insert + feed[at:], content_type)
    _parses_or_parse_error(feed[:at], content_type)  # truncated there

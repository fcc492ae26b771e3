"""A post's keys (canonical URL, story keys) are worked out once, when it is
stored, and read back with it, links and story keys in their order;
revision 0004 works them out for the posts stored before it, and 0013 moves
them from their side tables into the post's row (SQLite and PostgreSQL). Text signatures and spam signals
are not stored: digests work them out (`digests.memo.DigestMemo`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult, SourceConfig
from aggregator.domain.story import with_keys
from aggregator.store.migrations import alembic_config
from aggregator.store.repository import Repository

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
FAR = (NOW - timedelta(days=30), LATER)
BLOG = SourceConfig("blog", "rss", "A blog", (("url", "https://blog.example/feed"),))
TEXT = "Retrieval practice routines that take five minutes at the start of every lesson"


def make_post(n: int, **changes: object) -> Post:
    post = Post(
        source_key="blog",
        external_id=f"id-{n}",
        network="rss",
        url=f"http://www.blog.example/{n}/?utm_source=rss&utm_medium=feed#comments",
        author="Ana",
        title=f"Post {n}",
        text=f"{TEXT} {n}" if n % 2 else "Free giveaway! #crypto",
        html="",
        published_at=NOW - timedelta(minutes=n),
        hashtags=("edchat",),
        links=(
            f"https://m.shared.example/articles/{n}?fbclid=abc",
            "https://shared.example/",  # a home page: not a story
            "https://x.com/edutopia",  # a profile: not a story
        ),
        content_hash=f"hash-{n}",
    )
    return replace(post, **changes)  # type: ignore[arg-type]


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    repository = Repository.open(db_url)
    repository.sync_sources([BLOG], NOW)
    yield repository
    repository.close()


def test_a_stored_post_comes_back_with_its_keys(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1), make_post(2))), NOW, LATER)
    one, two = sorted(repo.posts_for_digest(["blog"], *FAR), key=lambda p: p.external_id)
    assert one.canonical_url == "https://blog.example/1"
    assert one.story_keys == ("https://blog.example/1", "https://shared.example/articles/1")
    for stored in (one, two):
        expected = with_keys(make_post(int(stored.external_id[3:])))
        assert (stored.canonical_url, stored.story_keys) == (
            expected.canonical_url,
            expected.story_keys,
        )


def test_only_the_cheap_keys_are_columns(repo: Repository, db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        columns = {column["name"] for column in sa.inspect(engine).get_columns("posts")}
    finally:
        engine.dispose()
    assert "canonical_url" in columns
    assert not columns & {"text_signature", "spam_signals"}


def test_a_changed_post_gets_new_keys_and_an_unchanged_one_is_not_rewritten(
    repo: Repository,
) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1),)), NOW, LATER)
    moved = make_post(1, links=("https://other.example/a",), content_hash="hash-1b")
    assert repo.save_fetch("blog", FetchResult((moved,)), LATER, LATER) == (0, 1)
    (stored,) = repo.posts_for_digest(["blog"], *FAR)
    assert stored.story_keys == ("https://blog.example/1", "https://other.example/a")
    assert repo.save_fetch("blog", FetchResult((moved,)), LATER, LATER) == (0, 0)


def test_a_post_without_a_content_hash_is_compared_as_its_source_sent_it(
    repo: Repository,
) -> None:
    post = make_post(1, content_hash="")
    assert repo.save_fetch("blog", FetchResult((post,)), NOW, LATER) == (1, 0)
    assert repo.save_fetch("blog", FetchResult((post,)), NOW, LATER) == (0, 0)


def test_links_and_story_keys_come_back_in_their_order_after_a_store_and_an_update(
    repo: Repository,
) -> None:
    links = ("https://z.example/a/1", "https://a.example/b/2", "https://m.example/c/3")
    first = make_post(1, links=links)
    repo.save_fetch("blog", FetchResult((first,)), NOW, LATER)
    (stored,) = repo.posts_for_digest(["blog"], *FAR)
    assert stored.links == links
    assert stored.story_keys == with_keys(first).story_keys
    assert stored.story_keys == (links[1], "https://blog.example/1", links[2], links[0])
    second = make_post(1, links=links[::-1], content_hash="hash-1b")
    assert repo.save_fetch("blog", FetchResult((second,)), LATER, LATER) == (0, 1)
    (stored,) = repo.posts_for_digest(["blog"], *FAR)
    assert stored.links == links[::-1]
    assert stored.story_keys == with_keys(second).story_keys
    found = repo.find_post("blog", "id-1")
    assert found is not None and (found.links, found.story_keys) == (
        stored.links,
        stored.story_keys,
    )


def _store_at(engine: sa.Engine, revision: str, posts: list[Post]) -> None:
    """A database at `revision` (0003 to 0012) with `posts` stored the way it
    stored them: ids from 1, links in `post_links`, and the story keys of the
    keyed ones in `post_story_keys`, their rows written last position first."""
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    keyed = any(post.story_keys is not None for post in posts)
    names = ("sources", "posts", "post_links", *(("post_story_keys",) if keyed else ()))
    meta = sa.MetaData()
    meta.reflect(engine, only=names)
    sources, posts_table, links = (meta.tables[name] for name in names[:3])
    with engine.begin() as conn:
        conn.execute(
            sa.insert(sources),
            {"key": "blog", "kind": "rss", "name": "", "options": {}, "is_active": True}
            | {"consecutive_failures": 0},
        )
        for start in range(0, len(posts), 500):
            rows = list(enumerate(posts[start : start + 500], start + 1))
            conn.execute(
                sa.insert(posts_table),
                [
                    {
                        "id": post_id,
                        "source_key": "blog",
                        "external_id": post.external_id,
                        "network": "rss",
                        "url": post.url,
                        "canonical_url": post.canonical_url,
                        "author": post.author,
                        "author_url": "",
                        "title": post.title,
                        "text": post.text,
                        "html": "",
                        "published_at": post.published_at,
                        "fetched_at": NOW,
                        "updated_at": NOW,
                        "likes": 0,
                        "reposts": 0,
                        "replies": 0,
                        "quotes": 0,
                        "hashtags": list(post.hashtags),
                        "content_hash": post.content_hash,
                    }
                    for post_id, post in rows
                ],
            )
            _insert_list(conn, links, "url", [(post_id, post.links) for post_id, post in rows])
            if keyed:
                keys = meta.tables["post_story_keys"]
                _insert_list(
                    conn, keys, "key", [(post_id, post.story_keys or ()) for post_id, post in rows]
                )


def _insert_list(
    conn: sa.Connection, table: sa.Table, column: str, lists: list[tuple[int, tuple[str, ...]]]
) -> None:
    rows = [
        {"post_id": post_id, "position": position, column: value}
        for post_id, values in lists
        for position, value in reversed(list(enumerate(values)))
    ]
    if rows:
        conn.execute(sa.insert(table), rows)


def _upgraded(db_url: str, revision: str, posts: list[Post]) -> tuple[list[Post], set[str]]:
    """`posts` stored at `revision`, then read back once the repository has
    upgraded the database; and the names of its tables then."""
    engine = sa.create_engine(db_url)
    try:
        _store_at(engine, revision, posts)
        with Repository.open(db_url) as repo:
            stored = repo.posts_for_digest(["blog"], NOW - timedelta(days=30), NOW + timedelta(1))
        return stored, set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_revision_0004_keys_the_posts_already_stored(db_url: str) -> None:
    count = 1203  # more than two batches
    stored, _ = _upgraded(db_url, "0003", [make_post(n) for n in range(count)])
    assert len(stored) == count
    for post in stored:
        expected = with_keys(make_post(int(post.external_id[3:])))
        assert post == expected
        assert post.canonical_url == expected.canonical_url
        assert post.story_keys == expected.story_keys
    assert stored[-1].canonical_url == f"https://blog.example/{count - 1}"


def _at_0012(n: int) -> Post:
    """Post `n` as revision 0012 stored it: some without links, some without story keys."""
    post = with_keys(make_post(n, links=() if n % 5 == 0 else make_post(n).links))
    return replace(post, story_keys=()) if n % 10 == 0 else post


def test_revision_0013_moves_every_post_s_links_and_story_keys_into_its_row(db_url: str) -> None:
    count = 1203  # more than two batches
    stored, tables = _upgraded(db_url, "0012", [_at_0012(n) for n in range(count)])
    assert not tables & {"post_links", "post_story_keys"}
    assert len(stored) == count
    for post in stored:
        expected = _at_0012(int(post.external_id[3:]))
        assert (post.links, post.story_keys) == (expected.links, expected.story_keys)
    assert {len(post.links) for post in stored} == {0, 3}
    assert {len(post.story_keys or ()) for post in stored} == {0, 1, 2}


def test_a_repost_is_stored_with_its_original_as_its_story(repo: Repository) -> None:
    original = make_post(1)
    repost = replace(
        make_post(3, author="Ben", text="", links=(), content_hash="rt-3"),
        url=original.url,
        repost_of=original.url,
    )
    assert repo.save_fetch("blog", FetchResult((original, repost)), NOW, LATER) == (2, 0)
    assert repo.save_fetch("blog", FetchResult((original, repost)), NOW, LATER) == (0, 0)
    stored = {p.external_id: p for p in repo.posts_for_digest(["blog"], *FAR)}
    assert stored["id-3"] == repost and stored["id-3"].is_repost
    assert not stored["id-1"].is_repost and stored["id-1"].repost_of == ""
    assert stored["id-3"].story_keys == ("https://blog.example/1",)
    assert stored["id-3"].canonical_url == stored["id-1"].canonical_url

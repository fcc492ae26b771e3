"""Writing one fetched batch of posts (used by `storage.Repository.save_fetch`).

The batch is split into new and changed posts with one query per chunk,
then written with a few statements per batch, never one per post.
A post's canonical URL and story keys are worked out here, once, for the
posts written: not again for every recipient whose digest shows them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult
from aggregator.domain.story import with_keys
from aggregator.store.tables import Base, PostRow

T = TypeVar("T")

# Rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500


def content_hash_of(post: Post) -> str:
    """The post's `content_hash`, or a SHA-256 of what a reader sees when unset.

    A change of this value is what makes storage rewrite a stored post.
    """
    if post.content_hash:
        return post.content_hash
    seen = [
        post.network,
        post.url,
        post.canonical_url,
        post.author,
        post.author_url,
        post.title,
        post.text,
        post.html,
        post.published_at.isoformat(),
        [
            post.engagement.likes,
            post.engagement.reposts,
            post.engagement.replies,
            post.engagement.quotes,
        ],
        post.media_url,
        post.media_type,
        post.image_url,
        list(post.hashtags),
        post.language,
        list(post.links),
    ]
    if post.repost_of:  # only then: the hashes of the posts already stored stay the same
        seen.append(post.repost_of)
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()


def post_values(post: Post) -> dict[str, Any]:
    """The `posts` columns for `post` (all but id, fetched_at, updated_at).

    `post` comes through `aggregator.domain.story.with_keys`: what is
    derived from it is stored with it. Raises ValueError otherwise.
    """
    if post.story_keys is None:
        raise ValueError(f"post {post.external_id!r} stored without its keys worked out")
    return {
        "source_key": post.source_key,
        "external_id": post.external_id,
        "network": post.network,
        "url": post.url,
        "canonical_url": post.canonical_url,
        "author": post.author,
        "author_url": post.author_url,
        "title": post.title,
        "text": post.text,
        "html": post.html,
        "published_at": post.published_at,
        "likes": post.engagement.likes,
        "reposts": post.engagement.reposts,
        "replies": post.engagement.replies,
        "quotes": post.engagement.quotes,
        "media_url": post.media_url,
        "media_type": post.media_type,
        "image_url": post.image_url,
        "hashtags": list(post.hashtags),
        "links": list(post.links),
        "story_keys": list(post.story_keys),
        "language": post.language,
        "content_hash": content_hash_of(post),
        "repost_of": post.repost_of,
    }


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def dedupe(source_key: str, posts: Sequence[Post]) -> dict[str, Post]:
    """The batch by external id, the last occurrence winning."""
    batch: dict[str, Post] = {}
    for post in posts:
        if post.source_key != source_key:
            raise ValueError(
                f"post {post.external_id!r} of {post.source_key!r} saved as {source_key!r}"
            )
        batch.pop(post.external_id, None)
        batch[post.external_id] = post
    return batch


def split_batch(
    session: Session, source_key: str, posts: dict[str, Post]
) -> tuple[list[Post], list[tuple[int, Post]]]:
    """Split the batch into new posts and (id, post) of changed stored ones.

    Both come back keyed (`keyed`), ready to store; unchanged posts are not
    keyed at all.
    """
    stored: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(list(posts)):
        stmt = select(PostRow.external_id, PostRow.id, PostRow.content_hash).where(
            PostRow.source_key == source_key, PostRow.external_id.in_(chunk)
        )
        for external_id, post_id, content_hash in session.execute(stmt):
            stored[external_id] = (post_id, content_hash)
    new: list[Post] = []
    changed: list[tuple[int, Post]] = []
    for external_id, post in posts.items():
        if external_id not in stored:
            new.append(keyed(post))
        elif stored[external_id][1] != content_hash_of(post):
            changed.append((stored[external_id][0], keyed(post)))
    return new, changed


def keyed(post: Post) -> Post:
    """`post` with its keys worked out (`with_keys`) and its content hash pinned first.

    The hash is of the post as its source sent it, so that the next fetch
    of the same post compares equal whatever the keys fill in. A post that
    comes with both already (the rss connector works the keys out in its
    parse workers, off this single writer's thread) is stored as it is.
    """
    if post.story_keys is not None and post.content_hash:
        return post
    return with_keys(replace(post, content_hash=content_hash_of(post)))


def insert_posts(session: Session, posts: list[Post], now: datetime) -> None:
    """Insert `posts` (keyed) in one executemany."""
    if not posts:
        return
    rows = [post_values(post) | {"fetched_at": now, "updated_at": now} for post in posts]
    # Core, not ORM: the ORM's per-row bookkeeping was a third of the cost
    # of storing a feed.
    session.connection().execute(insert(Base.metadata.tables["posts"]), rows)


def update_posts(session: Session, changed: list[tuple[int, Post]], now: datetime) -> None:
    """Rewrite changed (keyed) posts in place, by primary key, in one executemany."""
    if changed:
        rows = [post_values(post) | {"id": pid, "updated_at": now} for pid, post in changed]
        session.execute(update(PostRow), rows)


def success_values(
    result: FetchResult, now: datetime, next_attempt_at: datetime, has_new: bool
) -> dict[str, Any]:
    """The source columns a successful fetch sets."""
    values: dict[str, Any] = {
        "last_attempt_at": now,
        "last_success_at": now,
        "last_error": result.problem,
        "consecutive_failures": 0,
        "next_attempt_at": next_attempt_at,
        "wait_until": None,
    }
    if not result.not_modified:
        values |= {
            "cursor": result.cursor,
            "etag": result.etag,
            "last_modified": result.last_modified,
        }
    if result.moved_to:
        values["moved_url"] = result.moved_to
    if has_new:
        values["last_new_post_at"] = now
    return values

"""One source's part of a digest, worked out once for every digest that reads it.

A digest's posts come from the sources its teacher follows, and in a batch
most of what is worked out of one source's posts is the same for everyone
following it: which posts are in the window and which a mute word drops,
how their engagement compares, what each account did, and what each post
may be joined to (`digests.cluster.pool_reach`). `SourceWindow` holds
that, and `digests.rank` keeps there the scores of its posts as stories of
their own, sorted. A digest then groups only its posts that may be joined
to another of its posts (`joinable`: a few in ten) and merges the sources'
ranked stories as far as it reads them (`digests.rank.Ranking`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from digests.activity import Activity, activity_of
from digests.cluster import Story, full_buckets_tested, pool_reach
from digests.engagement import SourceStanding, judge_source
from digests.memo import DigestMemo
from digests.select import Phrases, compile_phrases, mentions, select_candidates


class PostsBySource:
    """A digest's posts, one tuple per source, in the order its sources first
    appear. A batch hands each of its digests the same tuple for the same
    source and window start (`aggregator.app.build.Batch`): what is worked
    out of one source's posts is remembered by that tuple."""

    __slots__ = ("groups",)

    def __init__(self, groups: Iterable[tuple[Post, ...]]) -> None:
        self.groups = tuple(groups)

    @classmethod
    def of(cls, posts: Iterable[Post]) -> PostsBySource:
        """`posts` grouped by source, each group in the order given."""
        by_source: dict[str, list[Post]] = {}
        for post in posts:
            by_source.setdefault(post.source_key, []).append(post)
        return cls(tuple(group) for group in by_source.values())


if TYPE_CHECKING:  # digests.rank ranks the stories of these windows
    from digests.rank import Scored


class SourceWindow:
    """One source's posts in a digest's window, and what depends on them alone.

    `kept` are the posts in the window that no mute word drops (in the
    order given; one dated after the window's end counts as published at
    its end) and `muted` the others with the word each matched; `posts` are
    the kept posts once each (by external id, the last given wins).
    `standings` judges the engagement of its posts with words of their own
    (not reposts), one per network (`digests.engagement`); `activity` is
    what each account did (`digests.activity`). What its posts may be
    joined to (their `Reach` in the batch's pool): `reaching` lists them
    by each source they may be joined to a post of, `crowded` those in a
    bucket too full for the pool to test, with those buckets; `unknown`
    are the posts whose reach is not known (all of them, when they are not
    all posts of the pool: every one may be joined). `singles` are the
    stories each post but a repost makes alone (none when the reach is not
    known): a digest following none of a post's reach shows it as that
    story. `group` is the tuple it was made
    from and `pool` the memo's pool then, held so that their ids, the
    memo's key, are never another's;
    `ranked` is for `digests.rank` to keep what it worked out of these
    posts, once per instant they are ranked at.
    """

    __slots__ = (
        "_buckets",
        "_mentions",
        "activity",
        "crowded",
        "group",
        "kept",
        "muted",
        "pool",
        "posts",
        "ranked",
        "reaching",
        "singles",
        "source_key",
        "standings",
        "unknown",
    )

    def __init__(
        self,
        group: tuple[Post, ...],
        window: tuple[datetime, datetime],
        mutes: Phrases | None,
        memo: DigestMemo,
    ) -> None:
        self.group = group
        selection = select_candidates(group, (), mutes, *window, memo)
        self.kept, self.muted = selection.kept, selection.muted
        self.posts = tuple({post.external_id: post for post in self.kept}.values())
        own = [post for post in self.posts if not post.is_repost]
        by_network: dict[str, list[Post]] = {}
        for post in own:
            by_network.setdefault(post.network, []).append(post)
        self.standings: tuple[SourceStanding, ...] = tuple(map(judge_source, by_network.values()))
        self.activity: dict[str, Activity] = activity_of(self.posts)
        self.source_key = group[0].source_key
        self.pool = pool = memo.pool
        reach = pool_reach(pool, memo) if pool is not None and pool.covers(self.posts) else None
        self.unknown: tuple[Post, ...] = ()
        self.reaching: dict[str, list[Post]] = {}
        self.crowded: list[tuple[Post, frozenset[int]]] = []
        self.singles: tuple[Story, ...] = ()
        if reach is None:  # nothing known of what the posts may join: all may
            self.unknown = self.posts
        else:
            for post in self.posts:
                found = reach[id(post)]
                for source in found.sources:
                    self.reaching.setdefault(source, []).append(post)
                if found.full:
                    self.crowded.append((post, found.full))
            # A story of one post has no one to order: no window's activity to hold.
            self.singles = tuple(Story(p, (p,)) for p in self.posts if not p.repost_of)
        self.ranked: dict[datetime, tuple[list[Scored], tuple[int, ...]]] = {}
        self._buckets: Counter[int] | None = None
        self._mentions: dict[str, frozenset[int]] = {}

    def bucket_size(self, bucket: int, memo: DigestMemo) -> int:
        """How many of `posts` have `bucket` among their texts' band hashes."""
        if self._buckets is None:
            self._buckets = Counter(b for post in self.posts for b in memo.facts_of(post).bands)
        return self._buckets[bucket]

    def singles_mentioning(self, phrases: Phrases, memo: DigestMemo) -> frozenset[int]:
        """The ids of the leads of `singles` that mention one of `phrases`."""
        key = phrases.pattern.pattern
        found = self._mentions.get(key)
        if found is None:
            found = self._mentions[key] = frozenset(
                id(story.lead)
                for story in self.singles
                if mentions(phrases, story.lead, memo.facts_of(story.lead))
            )
        return found


def source_windows(
    posts: PostsBySource,
    recipient: RecipientConfig,
    window: tuple[datetime, datetime],
    memo: DigestMemo,
) -> list[SourceWindow]:
    """The `SourceWindow` of each source of `posts` the recipient follows
    (all of them when they follow nothing in particular), remembered in
    `memo` by the source's tuple, the batch's pool, the window and the mute
    words."""
    mutes = compile_phrases(recipient.mute)
    follows = set(recipient.follow)
    mute_key = None if mutes is None else mutes.pattern.pattern
    found: list[SourceWindow] = []
    for group in posts.groups:
        if not group or (follows and group[0].source_key not in follows):
            continue
        key = (id(group), id(memo.pool), window[0], window[1], mute_key)
        known = memo.windows.find(key)
        if known is None:
            known = memo.windows.put(key, SourceWindow(group, window, mutes, memo))
        found.append(known)
    return found


def joinable(windows: Sequence[SourceWindow], memo: DigestMemo) -> list[Post]:
    """The posts of `windows` that may be joined to another of theirs: those
    whose `Reach` holds one of their sources, or a full bucket of the pool
    holding at most MAX_BUCKET of their posts (which the digest tests)."""
    keys = {window.source_key for window in windows}
    pool = memo.pool
    tested = (
        frozenset() if pool is None else full_buckets_tested(pool, bucket_size_of(windows, memo))
    )
    found: dict[int, Post] = {}
    for window in windows:
        found.update((id(post), post) for post in window.unknown)
        for key in keys.intersection(window.reaching):
            found.update((id(post), post) for post in window.reaching[key])
        if tested:
            crowded = window.crowded
            found.update((id(p), p) for p, full in crowded if not full.isdisjoint(tested))
    return list(found.values())


def bucket_size_of(windows: Sequence[SourceWindow], memo: DigestMemo) -> Callable[[int], int]:
    """How many posts of `windows` have a given band hash."""
    return lambda bucket: sum(window.bucket_size(bucket, memo) for window in windows)

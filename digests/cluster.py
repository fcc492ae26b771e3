"""One story, one entry: grouping the posts that share the same thing.

Two posts are the same story when they share a canonical URL (the post's
own, or a link it shares: an article, or the post a quote or repost points
at) or when their text is near-identical once links, mentions and hashtags
are set aside (one announcement cross-posted to several networks). Groups
are the connected components of those pairs (union-find). A repost (a
retweet, a boost) joins the story of what it reposts, its author one more
who shared it; it is never a story's lead.

Near-identical text is found without comparing every pair: posts are
bucketed by the band hashes of their text signatures (locality-sensitive
hashing of their word sets, see `aggregator.domain.story`) and only posts
sharing a bucket are compared, so a day of thousands of posts costs
milliseconds. Story keys are worked out once, when a post is stored, and
read back with it; text signatures and verdicts once per batch of digests
(`digests.memo.DigestMemo`), and what each post of the batch may be
joined to (`pool_reach`): a digest groups only its posts that may be
joined to another of its own (`digests.sources.joinable`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aggregator.domain.post import Post
from aggregator.domain.story import clean_words, story_keys
from digests.activity import Activity, WindowActivity, account_of
from digests.memo import DigestMemo, TextFacts
from digests.nearby import MAX_BUCKET, NearPairs, may_match, texts_match


@dataclass(frozen=True, slots=True)
class Sharer:
    """Someone in the network who shared a story, and on which networks."""

    author: str
    networks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Story:
    """Posts about one thing; `lead` is the one shown, `posts` all of them (lead
    first), reposts included. `activity` is what each account did in the
    window, by `account_of` (empty: nothing known beyond the story)."""

    lead: Post
    posts: tuple[Post, ...]
    activity: Mapping[str, Activity] = field(default_factory=dict, compare=False, repr=False)

    @property
    def own_posts(self) -> tuple[Post, ...]:
        """The posts with words of their own: all but the reposts (lead first)."""
        if len(self.posts) == 1:  # most stories: its lead alone, never a repost
            return self.posts
        return tuple(post for post in self.posts if not post.is_repost)

    @property
    def sharer_count(self) -> int:
        """How many accounts shared it (`len(sharers)`, without ordering them)."""
        if len(self.posts) == 1:
            return 1
        return len({account_of(post) for post in self.posts})

    @property
    def sharers(self) -> tuple[Sharer, ...]:
        """Who shared it, once per account (`account_of`), reposts included, with
        each network they shared it on.

        The lead's author first, then the most recognisable: those whose own
        posts drew the most interactions in the window, then those who shared
        the most of its posts; then in the order of `posts`.
        """
        if len(self.posts) == 1:  # most stories: no one to order
            return (Sharer(self.lead.author.strip(), (self.lead.network,)),)
        people: dict[str, tuple[str, list[str]]] = {}
        for post in self.posts:
            _, networks = people.setdefault(account_of(post), (post.author.strip(), []))
            if post.network not in networks:
                networks.append(post.network)
        lead = account_of(self.lead)
        if len(people) == 2:  # the lead's author, then the other: no one to order
            other = next(key for key in people if key != lead)
            return tuple(Sharer(people[key][0], tuple(people[key][1])) for key in (lead, other))

        def prominence(key: str) -> tuple[bool, int, int]:
            done = self.activity.get(key, Activity())
            return key != lead, -done.engagement, -done.shares

        return tuple(
            Sharer(people[key][0], tuple(people[key][1])) for key in sorted(people, key=prominence)
        )


def text_words(post: Post) -> list[str]:
    """The post's first MATCH_WORDS own words: lower case, no links, mentions or hashtags."""
    return clean_words(post.title or "", post.text)


class _Groups:
    """Union-find over post indexes; the smallest index is a group's root."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _join_by_key(groups: _Groups, keyed: Iterable[tuple[int, Iterable[object]]]) -> None:
    """Union every pair of indexes that share any key."""
    first: dict[object, int] = {}
    for index, keys in keyed:
        for key in keys:
            groups.union(first.setdefault(key, index), index)


def _buckets(facts: Sequence[TextFacts], indexes: Iterable[int]) -> dict[int, list[int]]:
    """The posts at `indexes` by bucket (each band hash of their texts)."""
    buckets: dict[int, list[int]] = {}
    for index in indexes:
        for bucket in facts[index].bands:
            members = buckets.get(bucket)
            if members is None:
                buckets[bucket] = [index]
            else:
                members.append(index)
    return buckets


def _join_in_buckets(
    groups: _Groups,
    facts: Sequence[TextFacts],
    buckets: Iterable[list[int]],
    memo: DigestMemo,
) -> None:
    """Union the posts whose texts are near-identical, testing the pairs of
    each bucket of at most MAX_BUCKET posts."""
    find, verdicts = groups.find, memo.verdicts
    for members in buckets:
        if len(members) < 2 or len(members) > MAX_BUCKET:
            continue
        for pos, i in enumerate(members):
            a = facts[i]
            for j in members[pos + 1 :]:
                b = facts[j]
                # Of lengths that cannot match (known without cleaning either
                # text), or already joined (by a link or an earlier band).
                if not may_match(a.count, b.count) or find(i) == find(j):
                    continue
                # The smaller digest first, whatever the posts' order: a
                # verdict is one for the pair of texts (see `texts_match`).
                first, second = (a, b) if a.digest <= b.digest else (b, a)
                verdict = verdicts.find((first.digest, second.digest))
                if verdict is None:
                    compare = functools.partial(texts_match, first, second)
                    verdict = memo.decide(first.digest, second.digest, compare)
                if verdict:
                    groups.union(i, j)


def _join_in_pool(
    groups: _Groups,
    facts: Sequence[TextFacts],
    pool: NearPairs,
    memo: DigestMemo,
    bucket_size: Callable[[int], int],
) -> None:
    """As `_join_in_buckets` over all buckets, for posts all of `pool`: its
    near-identical pairs are known, and kept when they share a bucket
    holding at most MAX_BUCKET of the digest's posts (`bucket_size`: how
    many)."""
    first: dict[str, int] = {}
    for index, fact in enumerate(facts):
        if fact.digest:
            first.setdefault(fact.digest, index)
    held: dict[int, int] = {}

    def fits(bucket: int) -> bool:
        if pool.sizes.get(bucket, 0) <= MAX_BUCKET:
            return True
        if bucket not in held:
            held[bucket] = bucket_size(bucket)
        return held[bucket] <= MAX_BUCKET

    for digest, i in first.items():
        for other, shared in pool.partners.get(digest, ()):
            j = first.get(other)
            if j is not None and any(fits(bucket) for bucket in shared):
                groups.union(i, j)
    crowded = [i for i, fact in enumerate(facts) if fact.digest in pool.in_full]
    if crowded:
        buckets = _buckets(facts, crowded)
        tested = full_buckets_tested(pool, bucket_size)
        _join_in_buckets(groups, facts, (buckets[b] for b in buckets if b in tested), memo)


def full_buckets_tested(pool: NearPairs, bucket_size: Callable[[int], int]) -> frozenset[int]:
    """The buckets too full for `pool` to test their pairs (`NearPairs.full`)
    that a digest tests itself: those holding at most MAX_BUCKET of its
    posts (`bucket_size`: how many)."""
    return frozenset(bucket for bucket in pool.full if bucket_size(bucket) <= MAX_BUCKET)


@dataclass(frozen=True, slots=True)
class Reach:
    """What a post of a pool may be joined to in a digest: a post of one of
    `sources` (a story key or cleaned text in common, a near-identical
    partner), or one sharing any of `full`, the buckets of the pool too full
    to have their pairs tested once (`NearPairs.full`), which a digest
    holding at most MAX_BUCKET of their posts tests itself."""

    sources: frozenset[str] = frozenset()
    full: frozenset[int] = frozenset()


def pool_reach(pool: NearPairs, memo: DigestMemo) -> dict[int, Reach]:
    """The `Reach` of each post of `pool`, by id; a digest following none of
    a post's reach has nothing to join it to: the post is a story of its
    own there. Worked out once per pool, for all its digests."""
    if memo.reach is not None and memo.reach[0] is pool:
        return memo.reach[1]
    by_key: dict[str, Counter[str]] = {}
    by_text: dict[str, Counter[str]] = {}
    for post in pool.posts:
        for key in story_keys(post):
            by_key.setdefault(key, Counter())[post.source_key] += 1
        digest = memo.facts_of(post).digest
        if digest:
            by_text.setdefault(digest, Counter())[post.source_key] += 1
    partners: dict[str, list[str]] = {}
    for digest, found in pool.partners.items():
        for other, _ in found:
            partners.setdefault(digest, []).append(other)
            partners.setdefault(other, []).append(digest)
    nothing = Reach()

    def reach_of(post: Post) -> Reach:
        facts = memo.facts_of(post)
        shared = [by_key[key] for key in story_keys(post)]
        if facts.digest:
            shared.append(by_text[facts.digest])
        own = post.source_key
        # Its own source counts when another post there shares the key.
        found = {source for sources in shared for source, n in sources.items() if source != own}
        found.update(own for sources in shared if sources[own] > 1)
        found.update(s for other in partners.get(facts.digest, ()) for s in by_text[other])
        full = pool.full.intersection(facts.bands) if facts.digest in pool.in_full else ()
        return Reach(frozenset(found), frozenset(full)) if found or full else nothing

    reach = {id(post): reach_of(post) for post in pool.posts}
    memo.reach = (pool, reach)
    return reach


def _join_by_text(groups: _Groups, facts: Sequence[TextFacts], memo: DigestMemo) -> None:
    """Union the posts whose texts are near-identical (LSH candidates, then checked)."""
    _join_in_buckets(groups, facts, _buckets(facts, range(len(facts))).values(), memo)


def lead_quality(post: Post) -> tuple[int, int, int, float, str, str]:
    """Which post of a story to show: the larger key wins.

    A titled post first (the article itself rather than a share of it),
    then the livelier discussion, more text, the earlier post (the original
    rather than a re-share), then ids so input order never matters.
    """
    return (
        1 if post.title else 0,
        post.engagement.total,
        len(post.text),
        -post.published_at.timestamp(),
        post.source_key,
        post.external_id,
    )


def cluster_posts(
    posts: Sequence[Post],
    memo: DigestMemo | None = None,
    *,
    activity: Mapping[str, Activity] | None = None,
    bucket_size: Callable[[int], int] | None = None,
) -> list[Story]:
    """The posts grouped into stories, each with its best post (not a repost) as lead.

    A post shared twice by the same source (same external id) counts once.
    Reposts alone (of a post outside the window, or muted) are no story.
    The order of stories follows their first post in a canonical order, so
    the result does not depend on the input order. `memo` carries text
    signatures and near-identical verdicts over from other digests (see
    `DigestMemo`); without one, a fresh one is made.
    When `posts` are only those of a digest's posts that may share
    something (`digests.sources.joinable`), `activity` and
    `bucket_size` tell of all of them: what each account did in the
    window, and how many of them have a given band hash.
    """
    memo = DigestMemo() if memo is None else memo
    unique = {(p.source_key, p.external_id): p for p in posts}
    ordered = sorted(unique.values(), key=lambda p: (p.published_at, p.source_key, p.external_id))
    facts = [memo.facts_of(post) for post in ordered]
    groups = _Groups(len(ordered))
    pool = memo.pool if memo.pool is not None and memo.pool.covers(ordered) else None
    _join_by_key(groups, ((i, story_keys(post)) for i, post in enumerate(ordered)))
    # Exact copies (the same cleaned text) share their signature's digest.
    _join_by_key(groups, ((i, (fact.digest,)) for i, fact in enumerate(facts) if fact.digest))
    if pool is not None:

        def among_posts(bucket: int) -> int:
            return sum(1 for fact in facts if bucket in fact.bands)

        _join_in_pool(groups, facts, pool, memo, bucket_size or among_posts)
    else:
        _join_by_text(groups, facts, memo)
    members: dict[int, list[Post]] = {}
    for index, post in enumerate(ordered):
        members.setdefault(groups.find(index), []).append(post)
    if activity is None:
        activity = WindowActivity.of_posts(ordered)
    stories = []
    # In the order of each story's first post: a group's root is its first.
    for index, post in enumerate(ordered):
        group = members.get(index)
        if group is None:  # not a group's first post
            continue
        if len(group) == 1:  # most stories: one post, its lead unless a repost
            if not post.repost_of:
                stories.append(Story(post, (post,), activity))
            continue
        own = [member for member in group if not member.is_repost]
        if not own:
            continue
        lead = max(own, key=lead_quality)
        stories.append(Story(lead, (lead, *(p for p in group if p is not lead)), activity))
    return stories

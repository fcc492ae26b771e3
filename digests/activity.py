"""What each account did in a digest's window: who is recognisable among a story's sharers.

A story shared by three or more people names the most recognisable first
(`digests.cluster.Story.sharers`): those whose own posts drew the most
interactions in the window, then those who shared the most. That is a sum
over the window's posts by account, which adds up source by source; each
source's part is worked out once per batch (`digests.sources.SourceWindow`),
and a digest's only for the accounts it asks about.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from aggregator.domain.post import Post


@dataclass(frozen=True, slots=True)
class Activity:
    """An account's part in a window: the interactions its own posts drew
    (`Engagement.total`), and how many posts it shared (its own and reposts)."""

    engagement: int = 0
    shares: int = 0


def account_of(post: Post) -> str:
    """Who shared `post`, as a key: by name, so that one person posting on two
    networks is one sharer; an unnamed poster by its source."""
    return post.author.strip().lower() or f"\0{post.source_key}"


def activity_of(posts: Sequence[Post]) -> dict[str, Activity]:
    """Each account's `Activity` over `posts`, by `account_of`."""
    totals: dict[str, list[int]] = {}
    for post in posts:
        key = account_of(post)
        done = totals.get(key)
        if done is None:
            totals[key] = [post.engagement.total, 1]
        else:
            done[0] += post.engagement.total
            done[1] += 1
    return {key: Activity(engagement, shares) for key, (engagement, shares) in totals.items()}


class WindowActivity(Mapping[str, Activity]):
    """What each account did in a window, added up from its sources' parts
    (each `activity_of` one source's posts) when first read: only stories
    shared by three or more people order their sharers by it."""

    def __init__(self, parts: Iterable[Mapping[str, Activity]]) -> None:
        self._pending: Iterable[Mapping[str, Activity]] | None = parts
        self._parts: list[Mapping[str, Activity]] = []

    @classmethod
    def of_posts(cls, posts: Sequence[Post]) -> WindowActivity:
        """`activity_of(posts)`, added up source by source when first read."""
        return cls(_source_parts(posts))

    def _sources(self) -> list[Mapping[str, Activity]]:
        if self._pending is not None:
            self._parts, self._pending = list(self._pending), None
        return self._parts

    def __getitem__(self, key: str) -> Activity:
        found = [part[key] for part in self._sources() if key in part]
        if not found:
            raise KeyError(key)
        return Activity(sum(a.engagement for a in found), sum(a.shares for a in found))

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key for part in self._sources() for key in part))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _source_parts(posts: Sequence[Post]) -> Iterator[dict[str, Activity]]:
    """`activity_of` each source's posts among `posts` (worked out when first read)."""
    by_source: dict[str, list[Post]] = {}
    for post in posts:
        by_source.setdefault(post.source_key, []).append(post)
    yield from map(activity_of, by_source.values())

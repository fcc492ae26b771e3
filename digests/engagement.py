"""A post's engagement judged against its own source's window: its percentile, and standouts.

A like on a small Mastodon tag is not a like on #edchat, so counts are
only compared within one network and source. The percentile says where a
post ranks there; it cannot tell the day's one remarkable post (2.5x the
interactions of anything else) from a dozen ordinary ones at the top. A
standout is that post: far above the rest of its source's window, by
ratio to the best of the others (the runner-up) and to their median, and
with enough interactions that a three-likes-against-one day is not one.
`digests.rank` gives standouts a bonus and `digests.choose` a place before
the rest of the budget is filled.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.domain.post import Post

# Reposts and quotes spread a post further than a like; a reply is a conversation.
_WEIGHTS = {"likes": 1.0, "reposts": 2.0, "quotes": 2.0, "replies": 1.5}
# A standout has at least STANDOUT_OVER_RUNNER_UP times the weighted
# engagement of every other post of its source in the window, at least
# STANDOUT_OVER_MEDIAN times their median (on a day when every post does
# about as well, the best must clear the crowd by more), and at least
# STANDOUT_MIN_ENGAGEMENT in all (ten likes, or four reposts and a reply).
STANDOUT_OVER_RUNNER_UP = 2.5
STANDOUT_OVER_MEDIAN = 3.0
STANDOUT_MIN_ENGAGEMENT = 10.0
# Fewer posts than this in a source's window is no crowd to stand out from.
STANDOUT_MIN_POSTS = 3

PostKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Standout:
    """A post far above the rest of its source's window (see the module docstring).

    `engagement` is its weighted engagement, `runner_up` the best and
    `median` the median of the `others` other posts of its source.
    """

    source_key: str
    external_id: str
    engagement: float
    runner_up: float
    median: float
    others: int

    @property
    def over_runner_up(self) -> float:
        """How many times the runner-up's engagement it has (inf over none)."""
        return self.engagement / self.runner_up if self.runner_up else float("inf")

    def describe(self) -> str:
        """How far it stands out, for `pln digest --explain`: "in edchat: engagement
        48, 3.2x the runner-up (15), median 4 of 20 other posts"."""
        ratio = f"{self.over_runner_up:.1f}x" if self.runner_up else "far above"
        return (
            f"in {self.source_key}: engagement {self.engagement:g}, {ratio} the"
            f" runner-up ({self.runner_up:g}), median {self.median:g} of {self.others} other posts"
        )


def weighted_engagement(post: Post) -> float:
    """Interactions, reposts and quotes counting double and replies one and a half."""
    e = post.engagement
    return (
        e.likes * _WEIGHTS["likes"]
        + e.reposts * _WEIGHTS["reposts"]
        + e.quotes * _WEIGHTS["quotes"]
        + e.replies * _WEIGHTS["replies"]
    )


@dataclass(frozen=True, slots=True)
class SourceStanding:
    """The posts of one network and source, judged among themselves:
    each one's percentile by external id, and its standout if it has one."""

    posts: tuple[Post, ...]
    percentiles: dict[str, float]
    standout: Standout | None

    def joined(self, other: SourceStanding) -> SourceStanding:
        """Both judgements as one, for one source key on two networks (rare):
        each post keeps the percentile it had on its own network."""
        return SourceStanding(
            self.posts + other.posts, self.percentiles | other.percentiles, self.standout
        )


def judge_source(members: Sequence[Post]) -> SourceStanding:
    """The `SourceStanding` of `members`, posts of one network and source."""
    weighted = [weighted_engagement(p) for p in members]
    values, count = sorted(weighted), len(weighted)
    percentiles = {
        post.external_id: (bisect_left(values, value) + bisect_right(values, value)) / 2 / count
        for post, value in zip(members, weighted, strict=True)
    }
    return SourceStanding(tuple(members), percentiles, _standout_of(members, weighted))


def _standout_of(members: Sequence[Post], weighted: Sequence[float]) -> Standout | None:
    """The post of `members` (with weighted engagements `weighted`) far above the rest, if any."""
    if len(members) < STANDOUT_MIN_POSTS:
        return None
    scored = sorted(zip(weighted, members, strict=True), key=lambda vp: -vp[0])
    (best, post), others = scored[0], [value for value, _ in scored[1:]]
    runner_up, median = others[0], statistics.median(others)
    if (
        best >= STANDOUT_MIN_ENGAGEMENT
        and best >= STANDOUT_OVER_RUNNER_UP * runner_up
        and best >= STANDOUT_OVER_MEDIAN * median
    ):
        return Standout(post.source_key, post.external_id, best, runner_up, median, len(others))
    return None


class Standing:
    """The engagement of a window's posts, each judged within its network and
    source (`SourceStanding`): percentiles and standouts."""

    __slots__ = ("_sources", "_standouts")

    def __init__(self, sources: Iterable[SourceStanding]) -> None:
        self._sources: dict[str, SourceStanding] = {}
        self._standouts: dict[PostKey, Standout] = {}
        for judged in sources:
            source_key = judged.posts[0].source_key
            known = self._sources.get(source_key)
            self._sources[source_key] = judged if known is None else known.joined(judged)
            if judged.standout is not None:
                found = judged.standout
                self._standouts[(found.source_key, found.external_id)] = found

    def of(self, post: Post) -> SourceStanding | None:
        """How the posts of `post`'s source were judged (None: not judged)."""
        return self._sources.get(post.source_key)

    def percentile(self, post: Post) -> float:
        """The post's percentile in its source (0.5, neutral, for a post not judged)."""
        judged = self._sources.get(post.source_key)
        return 0.5 if judged is None else judged.percentiles.get(post.external_id, 0.5)

    def standout(self, post: Post) -> Standout | None:
        """How the post stands out in its source, or None."""
        if not self._standouts:
            return None
        return self._standouts.get((post.source_key, post.external_id))

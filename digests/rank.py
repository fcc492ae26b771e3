"""Ordering stories by what matters to a teacher, with the parts of each score kept.

score = recency + engagement + sharing + boost - spam, where
- recency halves every RECENCY_HALF_LIFE_HOURS from the story's newest share;
- engagement is the best percentile any of its posts reaches among the
  window's posts of the same network and source (a like on a small
  Mastodon tag is not a like on #edchat, and a feed with no counts at all
  is neutral, 0.5), times ENGAGEMENT_WEIGHT;
- sharing grows with log2 of how many people shared it (0 for one);
- boost is BOOST_BONUS when any of its posts mentions a recipient's boost term;
- spam takes away SPAM_KEEP's complement of the rest when the lead post looks
  like spam (`aggregator.domain.spam`, through the batch's `DigestMemo`), so
  spam sinks but never disappears.
Pure: the clock comes in as `now`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from digests.cluster import Story
from digests.memo import DigestMemo
from digests.select import Phrases, compile_phrases, mentions

RECENCY_HALF_LIFE_HOURS = 6.0
ENGAGEMENT_WEIGHT = 1.0
SHARING_WEIGHT = 0.5
# A boost outweighs a day of age: a boosted post from yesterday still beats
# a quiet, unboosted one from just now.
BOOST_BONUS = 1.0
# A spammy story keeps this fraction of its score.
SPAM_KEEP = 0.2
# Reposts and quotes spread a post further than a like; a reply is a conversation.
_WEIGHTS = {"likes": 1.0, "reposts": 2.0, "quotes": 2.0, "replies": 1.5}


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """A story's score, part by part (see the module docstring); `spam` is <= 0."""

    recency: float
    engagement: float
    sharing: float
    boost: float
    spam: float
    spam_reasons: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        """The score used to rank: the sum of the parts."""
        return self.recency + self.engagement + self.sharing + self.boost + self.spam


@dataclass(frozen=True, slots=True)
class RankedStory:
    """A story with its score; `rank` counts from 1 (best)."""

    story: Story
    score: ScoreParts
    rank: int


def weighted_engagement(post: Post) -> float:
    """Interactions, reposts and quotes counting double and replies one and a half."""
    e = post.engagement
    return (
        e.likes * _WEIGHTS["likes"]
        + e.reposts * _WEIGHTS["reposts"]
        + e.quotes * _WEIGHTS["quotes"]
        + e.replies * _WEIGHTS["replies"]
    )


def engagement_percentiles(posts: Sequence[Post]) -> dict[tuple[str, str], float]:
    """Each post's mid-rank percentile in [0, 1] among posts of its network and source.

    Keyed by (source_key, external_id). Ties share the middle of their
    ranks, so a source whose posts all have the same count (a feed with no
    counts) gives every post 0.5.
    """
    groups: dict[tuple[str, str], list[Post]] = {}
    for post in posts:
        groups.setdefault((post.network, post.source_key), []).append(post)
    result: dict[tuple[str, str], float] = {}
    for members in groups.values():
        values = sorted(weighted_engagement(p) for p in members)
        for post in members:
            value = weighted_engagement(post)
            below, upto = bisect_left(values, value), bisect_right(values, value)
            result[(post.source_key, post.external_id)] = (below + upto) / 2 / len(values)
    return result


def score_story(
    story: Story,
    percentiles: dict[tuple[str, str], float],
    boost: Phrases | None,
    now: datetime,
    memo: DigestMemo | None = None,
) -> ScoreParts:
    """The parts of `story`'s score at `now` (a post dated after `now` is brand new)."""
    newest = max(post.published_at for post in story.posts)
    age_hours = max((now - newest).total_seconds(), 0.0) / 3600
    recency = math.pow(0.5, age_hours / RECENCY_HALF_LIFE_HOURS)
    best = max(percentiles.get((p.source_key, p.external_id), 0.5) for p in story.posts)
    sharing = SHARING_WEIGHT * math.log2(max(len(story.sharers), 1))
    bonus = BOOST_BONUS if any(mentions(boost, post) for post in story.posts) else 0.0
    reasons = (DigestMemo() if memo is None else memo).spam_signals(story.lead)
    base = recency + ENGAGEMENT_WEIGHT * best + sharing + bonus
    penalty = -(1 - SPAM_KEEP) * base if reasons else 0.0
    return ScoreParts(recency, ENGAGEMENT_WEIGHT * best, sharing, bonus, penalty, reasons)


def rank_stories(
    stories: Sequence[Story],
    recipient: RecipientConfig,
    now: datetime,
    memo: DigestMemo | None = None,
) -> list[RankedStory]:
    """The stories best first, with their scores.

    Deterministic: equal scores go newest lead first, then by external_id
    and source_key, so the same input always gives the same digest.
    `memo` carries spam signals over from other digests (see `DigestMemo`).
    """
    memo = DigestMemo() if memo is None else memo
    percentiles = engagement_percentiles([p for story in stories for p in story.posts])
    boost = compile_phrases(recipient.boost)
    scored = [(score_story(story, percentiles, boost, now, memo), story) for story in stories]
    scored.sort(
        key=lambda item: (
            -item[0].total,
            -item[1].lead.published_at.timestamp(),
            item[1].lead.external_id,
            item[1].lead.source_key,
        )
    )
    return [RankedStory(story, score, index) for index, (score, story) in enumerate(scored, 1)]

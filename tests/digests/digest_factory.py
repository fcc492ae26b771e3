"""Hand-built posts and recipients for the digest tests (known answers, no storage)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from digests.choose import Decision, Limits, plan_digest
from digests.cluster import Story, cluster_posts
from digests.engagement import Standing, Standout, judge_source
from digests.memo import DigestMemo
from digests.rank import RankedStory, Ranking, ScoreParts, rank_stories
from digests.sources import PostsBySource, joinable, source_windows

# Monday 30 November 2026, 12:30 UTC = 06:30 in Chicago: a typical send time.
NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
WINDOW = (NOW - DAY, NOW)


_VOCABULARY = (
    "lesson students rubric feedback inquiry phenomena retrieval practice exit ticket "
    "classroom reading writing science maths history project assessment formative "
    "summative groups discussion homework notebook lab model evidence claim reasoning "
    "vocabulary fluency phonics station routine seating behaviour parents report grading "
    "standards unit plan warmup hook question answer draft revise peer review choice "
    "voice agency podcast video slide board marker timer calendar schedule recess lunch"
).split()
# Made-up words too, so that random texts share few words, as real ones do.
_VOCABULARY += [
    a + b + c
    for a in ("bra", "ste", "qui", "mol", "pen", "dar", "lu", "vo")
    for b in ("ti", "ram", "nel", "co", "sa", "fu")
    for c in ("n", "x", "ble", "")
]
_FILLER_SEEDS = itertools.count()


def words(count: int, word: str | None = None) -> str:
    """`count` words: `word` repeated, or by default varied filler that no other
    call repeats (so that two posts never read as the same story)."""
    if word is not None:
        return " ".join([word] * count)
    rng = random.Random(next(_FILLER_SEEDS))
    return " ".join(rng.choice(_VOCABULARY) for _ in range(count))


def make_post(
    external_id: str = "1",
    *,
    hours_ago: float = 1.0,
    title: str | None = "<auto>",
    text: str | None = None,
    source_key: str = "blog",
    url: str | None = None,
    likes: int = 0,
    **overrides: Any,
) -> Post:
    """A post published `hours_ago` before NOW; everything else has a plain default.

    Title ("<auto>") and text default to ones unique to the post, so that posts made
    here are different stories unless a test says otherwise.
    """
    fields: dict[str, Any] = {
        "source_key": source_key,
        "external_id": external_id,
        "network": "rss",
        "url": url if url is not None else f"https://example.org/{source_key}/{external_id}",
        "author": f"Author {external_id}",
        "title": f"Post {external_id} from {source_key}" if title == "<auto>" else title,
        "text": text if text is not None else words(12),
        "html": "",
        "published_at": NOW - timedelta(hours=hours_ago),
        "engagement": Engagement(likes=likes),
    }
    fields.update(overrides)
    return Post(**fields)


def make_recipient(**overrides: Any) -> RecipientConfig:
    """Ana in Chicago with a five-minute budget, following "blog" and "social"."""
    fields: dict[str, Any] = {
        "email": "ana@school.org",
        "name": "Ana",
        "timezone": "America/Chicago",
        "reading_minutes": 5,
        "follow": ("blog", "social"),
    }
    fields.update(overrides)
    return RecipientConfig(**fields)


def as_ranked(posts: list[Post]) -> list[RankedStory]:
    """Each post its own story, ranked in the order given (scores descending)."""
    return [
        RankedStory(Story(post, (post,)), ScoreParts(1.0 / rank, 0.0, 0.0, 0.0, 0.0), rank)
        for rank, post in enumerate(posts, 1)
    ]


def plan(posts: list[Post], minutes: int, **limits: Any) -> dict[str, list[Decision]]:
    """`plan_digest` over `posts` in the order given, decisions grouped by placement."""
    ranking = Ranking(as_ranked(posts), standouts=0)  # scores of as_ranked: none stands out
    decisions = plan_digest(ranking, Limits(minutes * 60, **limits))
    grouped: dict[str, list[Decision]] = {"entry": [], "also": [], "skipped": []}
    for decision in decisions:
        grouped[decision.placement].append(decision)
    return grouped


def ranked(posts: list[Post], recipient: RecipientConfig | None = None) -> Ranking:
    """`posts` (of any sources, all of the last 30 days) grouped and ranked
    for `recipient` (`make_recipient()`), as a digest ranks them."""
    recipient = recipient or make_recipient()
    memo = DigestMemo()
    everything = replace(recipient, follow=())
    window = (NOW - timedelta(days=30), NOW)
    windows = source_windows(PostsBySource.of(posts), everything, window, memo)
    return rank_stories(
        cluster_posts(joinable(windows, memo), memo), recipient, NOW, memo, sources=windows
    )


def _standing(posts: list[Post]) -> Standing:
    """The engagement of `posts`, judged within each network and source."""
    groups: dict[tuple[str, str], list[Post]] = {}
    for post in posts:
        groups.setdefault((post.network, post.source_key), []).append(post)
    return Standing(map(judge_source, groups.values()))


def percentiles_of(posts: list[Post]) -> dict[tuple[str, str], float]:
    """Each post's engagement percentile in its network and source, by (source key, id)."""
    standing = _standing(posts)
    return {(p.source_key, p.external_id): standing.percentile(p) for p in posts}


def standouts_of(posts: list[Post]) -> dict[tuple[str, str], Standout]:
    """The posts standing out in their network and source, by (source key, id)."""
    standing = _standing(posts)
    found = ((p, standing.standout(p)) for p in posts)
    return {(p.source_key, p.external_id): s for p, s in found if s is not None}

"""Choosing and ordering a recipient's posts: which are candidates, in what order.

Pure functions: the posts, the recipient and the clock come in as arguments,
a list of `Post` goes out (STYLE.md §6). `select_candidates` decides what may
appear at all (window, follows, mutes, duplicates); `rank` decides the order.
Later signals (clustering, engagement normalised per network, spam demotion)
belong in `score_post` or between these two steps, not in the budget or the
templates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aggregator.models import Post, RecipientConfig

# Score weights. Recency is in (0, 1]; engagement reaches ENGAGEMENT_WEIGHT
# at ENGAGEMENT_SATURATION interactions; a boost outweighs a day of age, so a
# boosted post from yesterday still beats a quiet, unboosted one from just now.
RECENCY_HALF_LIFE_HOURS = 6.0
ENGAGEMENT_WEIGHT = 0.5
ENGAGEMENT_SATURATION = 1000
BOOST_BONUS = 1.0

# Query parameters that only track the click: two links differing in them
# are the same page.
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid")


def phrase_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any of `terms` as a whole word or phrase.

    "webinar" matches "Webinar!" and "#webinar" but not "webinars"; a phrase
    such as "formative assessment" matches across any run of whitespace.
    Returns None when no term is non-blank (nothing can match).
    """
    alternatives = []
    for term in terms:
        words = term.split()
        if words:
            alternatives.append(r"\s+".join(re.escape(word) for word in words))
    if not alternatives:
        return None
    # Lookarounds instead of \b so that terms starting or ending with a
    # non-word character ("C++", "#edchat") still match as a whole.
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _mentions(pattern: re.Pattern[str] | None, post: Post) -> bool:
    """Whether the post's title or text contains one of the pattern's terms."""
    if pattern is None:
        return False
    return bool(pattern.search(post.title or "") or pattern.search(post.text))


def normalise_url(url: str) -> str:
    """The URL as a de-duplication key: lower-case host, no fragment, no tracking, no trailing /."""
    parts = urlsplit(url.strip())
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not key.lower().startswith(_TRACKING_PARAMS)
        ]
    )
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def _quality(post: Post) -> tuple[int, int, int, float, str, str]:
    """Which of two posts with the same URL to keep: the larger key wins.

    More engagement first (the livelier discussion), then a real title, then
    more text, then the earlier post (the original rather than a re-share),
    then ids so the choice never depends on input order.
    """
    return (
        post.engagement.total,
        1 if post.title else 0,
        len(post.text),
        -post.published_at.timestamp(),
        post.source_key,
        post.external_id,
    )


def _deduplicate(posts: Iterable[Post]) -> list[Post]:
    """One post per normalised URL (canonical URL when known); URL-less posts all stay."""
    best: dict[str, Post] = {}
    unkeyed: list[Post] = []
    for post in posts:
        url = post.canonical_url or post.url
        if not url.strip():
            unkeyed.append(post)
            continue
        key = normalise_url(url)
        kept = best.get(key)
        if kept is None or _quality(post) > _quality(kept):
            best[key] = post
    return [*best.values(), *unkeyed]


def select_candidates(
    posts: Iterable[Post],
    recipient: RecipientConfig,
    window_start: datetime,
    window_end: datetime,
) -> list[Post]:
    """The posts that may appear in the recipient's digest for this window.

    Keeps posts published in (window_start, window_end] — a post dated after
    window_end (a source's clock running ahead) counts as published at
    window_end, and is returned with that date. Drops posts from sources the
    recipient does not follow (when `follow` is set), posts mentioning any
    mute word or phrase (case-insensitive, whole words, title or text), and
    duplicate URLs, keeping the best copy. Order is not meaningful: see `rank`.
    """
    muted = phrase_pattern(recipient.mute)
    follows = set(recipient.follow)
    kept: list[Post] = []
    for post in posts:
        if follows and post.source_key not in follows:
            continue
        if post.published_at > window_end:
            post = replace(post, published_at=window_end)
        if post.published_at <= window_start or _mentions(muted, post):
            continue
        kept.append(post)
    return _deduplicate(kept)


def score_post(post: Post, boost: re.Pattern[str] | None, now: datetime) -> float:
    """A post's rank score: recency + log-scaled engagement + boost bonus.

    Recency halves every RECENCY_HALF_LIFE_HOURS (a post dated after `now`
    counts as brand new); engagement grows with log(1 + interactions) up to
    ENGAGEMENT_WEIGHT; a post mentioning a boost term gains BOOST_BONUS.
    """
    age_hours = max((now - post.published_at).total_seconds(), 0.0) / 3600
    recency = math.pow(0.5, age_hours / RECENCY_HALF_LIFE_HOURS)
    engagement = min(
        math.log1p(post.engagement.total) / math.log1p(ENGAGEMENT_SATURATION), 1.0
    )
    bonus = BOOST_BONUS if _mentions(boost, post) else 0.0
    return recency + ENGAGEMENT_WEIGHT * engagement + bonus


def rank(posts: Sequence[Post], recipient: RecipientConfig, now: datetime) -> list[Post]:
    """The posts best first, by `score_post` with the recipient's boost terms.

    Deterministic: equal scores go newest first, then by external_id (and
    source_key), so the same input always gives the same digest.
    """
    boost = phrase_pattern(recipient.boost)
    scored = [(score_post(post, boost, now), post) for post in posts]
    scored.sort(
        key=lambda item: (
            -item[0],
            -item[1].published_at.timestamp(),
            item[1].external_id,
            item[1].source_key,
        )
    )
    return [post for _, post in scored]

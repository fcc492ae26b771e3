"""Hand-built posts and recipients for the digest tests (known answers, no storage)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aggregator.models import Engagement, Post, RecipientConfig

# Monday 30 November 2026, 12:30 UTC = 06:30 in Chicago: a typical send time.
NOW = datetime(2026, 11, 30, 12, 30, tzinfo=timezone.utc)
DAY = timedelta(hours=24)
WINDOW = (NOW - DAY, NOW)


def words(count: int, word: str = "word") -> str:
    """`count` words of filler text."""
    return " ".join([word] * count)


def make_post(
    external_id: str = "1",
    *,
    hours_ago: float = 1.0,
    title: str | None = "A post",
    text: str = "Some text about teaching.",
    source_key: str = "blog",
    url: str | None = None,
    likes: int = 0,
    **overrides: Any,
) -> Post:
    """A post published `hours_ago` before NOW; everything else has a plain default."""
    fields: dict[str, Any] = {
        "source_key": source_key,
        "external_id": external_id,
        "network": "rss",
        "url": url if url is not None else f"https://example.org/{source_key}/{external_id}",
        "author": "Ana Author",
        "title": title,
        "text": text,
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

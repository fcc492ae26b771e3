"""Fakes, not mocks (STYLE.md §9): small working stand-ins for the edges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from aggregator.config.types import Config, DatabaseConfig
from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, FetchState, SourceConfig

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class FixedClock:
    """A clock that only moves when the test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


Behaviour = FetchResult | Exception | Callable[[FetchState], FetchResult]


@dataclass
class FakeConnector:
    """Answers each source key with a scripted result or exception.

    `script[key]` is a list consumed one entry per fetch (the last entry
    repeats); `calls` records (key, state) for every fetch.
    """

    kind: ClassVar[str] = "rss"
    script: dict[str, list[Behaviour]] = field(default_factory=dict)
    calls: list[tuple[str, FetchState]] = field(default_factory=list)

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        self.calls.append((source.key, state))
        steps = self.script[source.key]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(state)
        return step

    def check(self, source: SourceConfig) -> list[str]:
        return []


def make_post(
    source_key: str,
    n: int,
    *,
    at: datetime = T0,
    text: str = "",
    title: str | None = None,
    likes: int = 0,
    url: str = "",
) -> Post:
    """A plausible post; `n` makes the external id and default content unique."""
    body = text or f"Post number {n} about formative assessment in grade {n % 12 + 1}."
    return Post(
        source_key=source_key,
        external_id=f"{source_key}-{n}",
        network="rss",
        url=url or f"https://blog.example/{source_key}/{n}",
        author=f"Author {n % 5}",
        title=title if title is not None else f"Idea {n} for {source_key}",
        text=body,
        html=f"<p>{body}</p>",
        published_at=at,
        engagement=Engagement(likes=likes),
        content_hash=f"{n}:{body}:{title}",
    )


def make_config(
    db_url: str, source_keys: list[str], recipients: tuple[RecipientConfig, ...] = ()
) -> Config:
    """A valid configuration of rss sources, built without a file."""
    sources = tuple(
        SourceConfig(key=k, kind="rss", options=(("url", f"https://{k}.example/feed"),))
        for k in source_keys
    )
    return Config(
        path="test.toml",
        database=DatabaseConfig(url=db_url),
        sources=sources,
        recipients=recipients,
    )

"""The `fakenet_channel` connector: two posts per channel, made up, no network."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext

_TEXTS = (
    "Exit tickets that take two minutes and still tell you what to reteach tomorrow.",
    "Our seventh graders ran a phenomenon-based unit on erosion with a stream table.",
)


class FakenetConnector:
    """Answers every fetch with the channel's two latest posts."""

    kind: ClassVar[str] = "fakenet_channel"

    def __init__(self, context: ConnectorContext) -> None:
        self._clock = context.clock

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        channel = source.option("channel")
        now = self._clock()
        posts = tuple(
            Post(
                source_key=source.key,
                external_id=f"{channel}-{n}",
                network="fakenet",
                url=f"https://fakenet.example/{channel}/{n}",
                author=f"Teacher {n}",
                title=None,
                text=_TEXTS[n - 1],
                html=f"<p>{_TEXTS[n - 1]}</p>",
                published_at=now - timedelta(hours=n),
            )
            for n in (1, 2)
        )
        return FetchResult(posts=posts, cursor=f"{channel}-1")

    def check(self, source: SourceConfig) -> list[str]:
        return []

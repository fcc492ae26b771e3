"""The interface every network connector implements (STYLE.md §3)."""

from __future__ import annotations

from typing import ClassVar, Protocol

from aggregator.models import FetchResult, FetchState, SourceConfig


class Connector(Protocol):
    """Fetches one kind of source and turns what it serves into `Post`s.

    A connector keeps no state between calls: what it needs to fetch only
    what is new (cursor, ETag, moved URL) comes in `state` and goes back in
    the `FetchResult`, and ingest stores it. It raises only `SourceError`
    subclasses.
    """

    kind: ClassVar[str]

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Fetch what `source` has new since `state`."""
        ...

    def check(self, source: SourceConfig) -> list[str]:
        """Problems found by one cheap online call (`pln check --online`)."""
        ...

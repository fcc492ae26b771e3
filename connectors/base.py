"""The interface every network connector implements (STYLE.md §3)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import ClassVar, Protocol

import requests

from aggregator.config.types import Config
from aggregator.domain.clock import Clock
from aggregator.domain.source import FetchResult, FetchState, SourceConfig


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


@dataclass(frozen=True)
class ConnectorContext:
    """What wiring hands every network connector: no globals, no database.

    `session` is the guarded HTTP session of `connectors.http.fetch` (timeouts and
    address checks come with it; SDKs are made to use it so `responses`
    replays every request in tests); `config` gives the `[fetch]` limits,
    the network sections and, through `config.secret(name)`, the secrets
    named by a source's `*_env` options; `clock` is "now" (aware UTC);
    `parse_pool` runs CPU-bound parsing in worker processes when given.
    """

    session: requests.Session
    config: Config
    clock: Clock
    parse_pool: Executor | None = None

"""The interface every network connector implements, and how a kind is registered.

`ConnectorSpec` is one line of `connectors.REGISTRY`: everything the rest of
the program needs to know of a source kind, without importing the
connector itself (and its network's SDK) until a source of that kind is
fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import ClassVar, Protocol

import requests

from aggregator.config.types import Config
from aggregator.domain.clock import Clock
from aggregator.domain.source import FetchResult, FetchState, Option, SourceConfig


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


ConnectorFactory = Callable[[ConnectorContext], Connector]
"""What builds a connector: its class, or a function taking the context."""


@dataclass(frozen=True, slots=True)
class Network:
    """A network as its posts, its readers and the configuration know it.

    `name` is what its posts carry in `Post.network`; `label` is how a
    digest names it to a teacher ("X", "Web"); `section` is the
    configuration table holding the token every source of the network is
    fetched with (`"twitter"`: `[twitter] bearer_token_env`), None when each
    source names its own secrets in `*_env` options.
    """

    name: str
    label: str
    section: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One source kind: its network, its options, how often it is fetched, its connector.

    `factory` is `"module:attr"`, imported by `load()` on first use, so that
    listing the kinds loads no network SDK. `monthly_reads`, for networks
    that bill each post read, estimates a source's reads in a month so
    `pln check` shows the cost before it is spent.
    """

    kind: str
    network: Network
    options: Mapping[str, Option]
    default_interval: timedelta
    factory: str
    monthly_reads: Callable[[SourceConfig], int] | None = None

    @property
    def section(self) -> str | None:
        """The configuration table of the network's token (see `Network.section`)."""
        return self.network.section

    def load(self) -> ConnectorFactory:
        """Import and return what builds this kind's connector from a context."""
        module, _, name = self.factory.partition(":")
        factory: ConnectorFactory = getattr(import_module(module), name)
        return factory

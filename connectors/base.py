"""The interface every network connector implements, what the wiring hands
it, and how a kind is registered.

`ConnectorSpec` is one line of `connectors.REGISTRY`: everything the rest of
the program needs to know of a source kind, without importing the
connector itself (and its network's SDK) until a source of that kind is
fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module
from typing import ClassVar, Protocol

import requests

from aggregator.config.types import Config
from aggregator.domain.clock import Clock
from aggregator.domain.source import FetchResult, FetchState, Option, SourceConfig
from connectors.limits import Limits, local_limits


class Connector(Protocol):
    """Fetches one kind of source and turns what it serves into `Post`s.

    A connector keeps no state between calls: what it needs to fetch only
    what is new (cursor, ETag, moved URL) comes in `state` and goes back in
    the `FetchResult`, and ingest stores it. A network login, which must
    outlive a call but is a secret and so is never stored, is kept in the
    context's `logins`. It raises only `SourceError` subclasses.
    """

    kind: ClassVar[str]

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Fetch what `source` has new since `state`."""
        ...

    def check(self, source: SourceConfig) -> list[str]:
        """Problems found by one cheap online call (`pln check --online`)."""
        ...


@dataclass
class Login:
    """One account's login on a network, shared by every source that uses it.

    `tokens` are secrets (never logged, stored or shown). `wait_until` is set
    when the network refused a new login for now (a login limit): until then
    `waiting` says why, and after it a login is tried again. A refused
    password is not remembered here: the run's credential gate gives that
    refusal to the other sources of the run, and the next run tries again.
    Hold `lock` while reading or changing a login.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: tuple[str, ...] | None = None
    wait_until: datetime | None = None
    waiting: str = ""


class Logins:
    """Network logins by account, kept in memory for the life of the process.

    Some networks allow few logins (Bluesky: about 10 a day per account), so a
    session is kept between fetches and runs, by the wiring rather than by
    a connector instance; the database never sees it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._accounts: dict[tuple[str, str], Login] = {}

    def account(self, network: str, name: str) -> Login:
        """The login of account `name` on `network`, created empty on first use."""
        with self._guard:
            return self._accounts.setdefault((network, name), Login())


@dataclass(frozen=True)
class ConnectorContext:
    """What wiring hands every network connector: no globals, no database.

    `session` is the guarded HTTP session of `connectors.http.fetch` (timeouts and
    address checks come with it; SDKs are made to use it so `responses`
    replays every request in tests); `config` gives the `[fetch]` limits,
    the network sections and, through `config.secret(name)`, the secrets
    named by a source's `*_env` options; `clock` is "now" (aware UTC);
    `parse_pool` runs CPU-bound parsing in worker processes when given;
    `logins` keeps network logins between fetches; `limits` counts what
    must hold across every process of the service (read budgets, login
    limits; the per-host slots act inside `session`).
    """

    session: requests.Session
    config: Config
    clock: Clock
    parse_pool: Executor | None = None
    logins: Logins = field(default_factory=Logins)
    limits: Limits = field(default_factory=local_limits)


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

"""The one place concrete classes are chosen: configuration in, a ready `App` out."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from aggregator.app.mailer import FileMailer, Mailer, SmtpMailer
from aggregator.config.types import Config, EmailConfig
from aggregator.domain.clock import Clock, utc_now
from aggregator.store.repository import Repository
from connectors import REGISTRY, connector_factory
from connectors.base import Connector, ConnectorContext
from connectors.http.guard import make_session
from connectors.limits import Limits, local_limits
from connectors.rss.connector import RssConnector, parse_new_items

log = logging.getLogger(__name__)


@dataclass
class Connectors:
    """The connectors of the configured source kinds, with what they hold open."""

    by_kind: Mapping[str, Connector]
    session: requests.Session | None = None
    pools: list[Executor] = field(default_factory=list)

    def close(self) -> None:
        """Stop worker processes and close the HTTP session."""
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.session is not None:
            self.session.close()

    def __enter__(self) -> Connectors:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class App:
    """Everything a command needs, built once per run and closed after it."""

    config: Config
    repo: Repository
    connectors: Mapping[str, Connector]
    clock: Clock = utc_now
    resources: Connectors | None = None

    def close(self) -> None:
        """Release the database, the HTTP session and any worker processes."""
        if self.resources is not None:
            self.resources.close()
        self.repo.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def build_connectors(
    config: Config,
    clock: Clock = utc_now,
    limits: Limits | None = None,
    *,
    parallel_parsing: bool = True,
) -> Connectors:
    """One connector per source kind the configuration uses, sharing one
    guarded HTTP session and the limits every fetch respects (`limits`, by
    default those `build_limits` chooses); no database needed (`pln check --online`).

    `parallel_parsing` False parses feeds in the fetching thread: in a worker
    process of `pln worker`, which may not start processes of its own.
    """
    limits = limits or build_limits(config)
    session = make_session(config.fetch.user_agent, limits.hosts)
    pools: list[Executor] = []
    parse_pool = _parse_pool(config, pools) if parallel_parsing else None
    context = ConnectorContext(session, config, clock, parse_pool, limits=limits)
    kinds = {source.kind for source in config.sources} & REGISTRY.keys()
    return Connectors({kind: connector_factory(kind)(context) for kind in kinds}, session, pools)


def build_app(
    config: Config,
    clock: Clock = utc_now,
    connectors: Mapping[str, Connector] | None = None,
    *,
    parallel_parsing: bool = True,
) -> App:
    """Open the database (migrating it), reconcile the configuration into it,
    and build the connectors (see `build_connectors` for `parallel_parsing`).

    `connectors` replaces the real ones (tests pass fakes). Raises
    StorageError when the database cannot be opened.
    """
    repo = Repository.open(config.database.url)
    try:
        repo.sync_sources(config.sources, clock())
        repo.sync_recipients(config.recipients)
    except BaseException:
        repo.close()
        raise
    if connectors is not None:
        return App(config, repo, connectors, clock)
    resources = build_connectors(config, clock, parallel_parsing=parallel_parsing)
    return App(config, repo, resources.by_kind, clock, resources)


def build_limits(config: Config) -> Limits:
    """The per-host slots, read budgets and login limits every fetch respects:
    kept in Redis, for the whole fleet, when workers share a queue
    (`[queue] redis_url`, or a Redis broker); in this process otherwise."""
    per_host = config.fetch.max_per_host
    url = config.queue.limits_url() if config.queue is not None else ""
    if not url:
        if config.queue is not None:
            log.warning(
                "[queue] has no Redis (redis_url): per-host limits and read budgets "
                "hold per worker process, not for the fleet"
            )
        return local_limits(per_host)
    from aggregator.app.fleet_limits import redis_limits  # redis comes with the workers extra

    # A slot outlives the longest request (the fetch deadline), so only a dead
    # worker's slot ever expires, within a minute and a half.
    return redis_limits(url, per_host, hold_s=3 * config.fetch.timeout_seconds + 30)


def build_mailer(config: EmailConfig) -> Mailer:
    """The mailer `[email] backend` asks for: SMTP, or .eml files in `folder`."""
    if config.backend == "file":
        return FileMailer(Path(config.folder))
    return SmtpMailer(config)


def _parse_pool(config: Config, pools: list[Executor]) -> Executor | None:
    """Worker processes for parsing feeds, so parsing uses every core.

    Parsing is pure-Python (feedparser) and holds the GIL; with few feeds
    there is nothing to parallelise and a process would only cost start-up.
    """
    feeds = sum(1 for s in config.sources if s.kind == RssConnector.kind)
    cores = os.cpu_count() or 1
    if feeds < 4 or cores < 2:
        return None
    # forkserver: fork is unsafe once fetch threads run, spawn is slower.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The server imports the parser once and every worker forks from it,
        # sharing those pages, instead of each worker importing it again.
        context.set_forkserver_preload(["__main__", parse_new_items.__module__])
    pool = ProcessPoolExecutor(max_workers=cores, mp_context=context)
    pools.append(pool)
    return pool

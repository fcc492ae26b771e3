"""Fetching sources and storing what they bring: the ingest orchestrator.

Each source is one small, idempotent unit of work ("fetch source K"): its
connector runs in a bounded thread pool, and its batch of posts is written
together with its new cursor in one transaction as soon as it arrives, so
memory holds one batch at a time and a crash loses at most the batch in
flight. A failure is data: it is recorded on its source and the run goes on.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.app import metrics
from aggregator.app.credentials import CredentialGate
from aggregator.app.wiring import App
from aggregator.domain.errors import (
    AuthError,
    FetchError,
    PLNError,
    RateLimited,
    SourceError,
    SourceGone,
)
from aggregator.domain.source import FetchOutcome, FetchResult, SourceConfig, SourceStatus
from connectors import REGISTRY
from connectors.limits import LimitsUnavailable

log = logging.getLogger(__name__)

Progress = Callable[[FetchOutcome], None]

# How often a healthy source is fetched when neither its kind (in the
# connectors' REGISTRY) nor the source says otherwise; feeds rarely change
# faster, and networks bill for reads.
DEFAULT_INTERVAL = timedelta(minutes=60)
# A failing source backs off exponentially but is still tried at least daily.
MAX_BACKOFF = timedelta(hours=24)
AUTH_RETRY = timedelta(hours=6)


def next_attempt_at(
    now: datetime,
    failures: int,
    retry_after: datetime | None = None,
    interval: timedelta = DEFAULT_INTERVAL,
    jitter: float = 0.0,
) -> datetime:
    """When a source should be fetched next.

    `failures` is the count of consecutive failures including this one (0
    after a success). Back-off doubles from 5 minutes up to a day; a network's
    own `retry_after` wins when it is later. `jitter` (0..1) spreads sources
    that share an interval so they do not all fire in the same minute.
    """
    if failures <= 0:
        delay = interval * (1 + jitter * 0.1)
    else:
        delay = min(timedelta(minutes=5) * 2 ** (failures - 1), MAX_BACKOFF)
    planned = now + delay
    if retry_after is not None and retry_after > planned:
        return retry_after
    return planned


def fetch_sources(
    app: App, keys: Sequence[str] | None = None, progress: Progress | None = None
) -> list[FetchOutcome]:
    """Fetch every active source now (or only `keys`), whether due or not.

    A source whose network asked us to wait (rate limit, Retry-After) is
    skipped with that reason. Raises PLNError for a key that is not in the
    configuration; every source failure is returned as data.
    """
    statuses = _statuses_to_fetch(app, keys)
    return _run(app, statuses, progress)


def fetch_due_sources(app: App, progress: Progress | None = None) -> list[FetchOutcome]:
    """Fetch only the sources whose next attempt time has come (the scheduler's job)."""
    due = set(app.repo.due_source_keys(app.clock())) - paused_keys(app)
    statuses = app.repo.source_statuses(sorted(due), include_inactive=False, with_post_counts=False)
    return _run(app, statuses, progress)


def fetch_one(app: App, key: str) -> FetchOutcome | None:
    """Fetch the active source `key` now and store what it brings: a worker's
    unit of work, the same path as a fetch run's. None when it is not an
    active source (any more); a failure is recorded and returned as data."""
    statuses = app.repo.source_statuses([key], include_inactive=False, with_post_counts=False)
    outcomes = _run(app, statuses, None)
    return outcomes[0] if outcomes else None


def record_crash(app: App, key: str, message: str) -> FetchOutcome:
    """Record a fetch of `key` that never finished (it stopped its worker) as a
    failure, so the source backs off like any failing one."""
    now = app.clock()
    status = app.repo.source_statuses([key], with_post_counts=False)[0]
    return _record_failure(
        app, status, SourceError(key, message), now, _interval(app.config.source(key))
    )


def refresh_stale_sources(
    app: App, keys: Sequence[str], older_than: timedelta, progress: Progress | None = None
) -> list[FetchOutcome]:
    """Fetch those of `keys` not fetched successfully within `older_than`, now.

    Before a digest goes out its sources are refreshed this way. Only
    healthy sources qualify: a failing one keeps its back-off (refreshing it
    every minute before a send would hammer it), and one the network asked
    us to wait for is skipped as in `fetch_sources`.
    """
    return _run(app, stale_sources(app, keys, older_than), progress)


def stale_sources(app: App, keys: Sequence[str], older_than: timedelta) -> list[SourceStatus]:
    """Those of `keys` that are healthy and not fetched successfully within
    `older_than` (see `refresh_stale_sources`)."""
    cutoff = app.clock() - older_than
    statuses = app.repo.source_statuses(
        sorted(set(keys) - paused_keys(app)), include_inactive=False, with_post_counts=False
    )
    return [
        s
        for s in statuses
        if s.consecutive_failures == 0 and (s.last_success_at is None or s.last_success_at < cutoff)
    ]


def paused_keys(app: App) -> set[str]:
    """The keys of the sources paused in the configuration: never fetched."""
    return {source.key for source in app.config.sources if source.paused}


def _statuses_to_fetch(app: App, keys: Sequence[str] | None) -> list[SourceStatus]:
    if keys:
        unknown = [k for k in keys if app.config.source(k) is None]
        if unknown:
            raise PLNError(f"no source with key {', '.join(unknown)} in {app.config.path}")
    return app.repo.source_statuses(
        keys or None, include_inactive=bool(keys), with_post_counts=False
    )


def _run(
    app: App, statuses: Sequence[SourceStatus], progress: Progress | None
) -> list[FetchOutcome]:
    outcomes: list[FetchOutcome] = []
    for outcome in _fetch_all(app, statuses):
        outcomes.append(outcome)
        source = app.config.source(outcome.source_key)
        metrics.record_fetch(outcome, source.kind if source else "")
        if progress is not None:
            progress(outcome)
    return outcomes


def _fetch_all(app: App, statuses: Sequence[SourceStatus]) -> Iterator[FetchOutcome]:
    now, paused = app.clock(), paused_keys(app)
    runnable: list[SourceStatus] = []
    for status in statuses:
        reason = "paused in the configuration" if status.key in paused else None
        reason = reason or _skip_reason(status, now)
        if reason:
            yield FetchOutcome(status.key, skipped=reason)
        else:
            runnable.append(status)
    if not runnable:
        return
    workers = max(1, min(app.config.fetch.workers, len(runnable)))
    gate = CredentialGate(app.config)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        yield from _as_stored(app, pool, runnable, gate, in_flight=workers * 2)


def _as_stored(
    app: App,
    pool: ThreadPoolExecutor,
    statuses: Sequence[SourceStatus],
    gate: CredentialGate,
    in_flight: int,
) -> Iterator[FetchOutcome]:
    """Fetch on the pool, store on this thread, as each source finishes.

    One writer (SQLite allows no other), and at most `in_flight` results
    waiting to be written, so memory is bounded by batches, not by how many
    sources there are.
    """
    waiting = iter(statuses)
    running: dict[Future[FetchResult], SourceStatus] = {}
    for status in itertools.islice(waiting, in_flight):
        running[pool.submit(_fetch_one, app, status, gate)] = status
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            yield _store(app, running.pop(future), future)
            for status in itertools.islice(waiting, 1):
                running[pool.submit(_fetch_one, app, status, gate)] = status


def _skip_reason(status: SourceStatus, now: datetime) -> str | None:
    if not status.is_active:
        return f"inactive: {status.last_error or 'no longer in the configuration'}"
    if status.wait_until is not None and status.wait_until > now:
        return f"the network asked us to wait until {status.wait_until:%Y-%m-%d %H:%M} UTC"
    return None


def _fetch_one(app: App, status: SourceStatus, gate: CredentialGate) -> FetchResult:
    source = app.config.source(status.key)
    if source is None:  # deactivated by sync_sources; kept for its history
        raise SourceError(status.key, "no longer in the configuration")
    connector = app.connectors.get(source.kind)
    if connector is None:
        raise SourceError(source.key, f"kind '{source.kind}' is not supported by this version")
    try:
        state = replace(status.state, is_first_fetch=status.last_success_at is None)
        with gate.use(source):
            return connector.fetch(source, state)
    except SourceError:
        raise
    except LimitsUnavailable as exc:
        raise FetchError(source.key, f"{exc}; tried again later") from exc
    except Exception as exc:  # a connector bug must not stop the other sources
        log.exception("%s: unexpected error in %s connector", source.key, source.kind)
        raise SourceError(source.key, f"unexpected error: {exc.__class__.__name__}: {exc}") from exc


def _store(app: App, status: SourceStatus, future: Future[FetchResult]) -> FetchOutcome:
    now = app.clock()
    source = app.config.source(status.key)
    interval = _interval(source)
    try:
        result = future.result()
    except SourceError as exc:
        return _record_failure(app, status, exc, now, interval)
    new, updated = app.repo.save_fetch(
        status.key, result, now, next_attempt_at(now, 0, interval=interval, jitter=random.random())
    )
    log.info(
        "%s: %d new, %d updated%s",
        status.key,
        new,
        updated,
        " (not modified)" if result.not_modified else "",
    )
    return FetchOutcome(
        status.key,
        new_posts=new,
        updated_posts=updated,
        not_modified=result.not_modified,
        problem=result.problem,
    )


def _record_failure(
    app: App, status: SourceStatus, exc: SourceError, now: datetime, interval: timedelta
) -> FetchOutcome:
    failures = status.consecutive_failures + 1
    retry_after = exc.retry_after
    if isinstance(exc, AuthError) and retry_after is None:
        # A refused credential stays refused until the admin renews it
        # (and `pln fetch` then tries at once): no point retrying soon.
        retry_after = now + AUTH_RETRY
    retry_at = next_attempt_at(now, failures, retry_after, interval)
    wait_until = exc.retry_after if isinstance(exc, RateLimited) else None
    app.repo.save_failure(
        status.key,
        exc.message,
        now,
        retry_at,
        deactivate=isinstance(exc, SourceGone),
        wait_until=wait_until,
    )
    log.warning(
        "%s: %s (failure %d, next try %s)",
        status.key,
        exc.message,
        failures,
        f"{retry_at:%Y-%m-%d %H:%M} UTC",
    )
    return FetchOutcome(status.key, error=exc.message)


def _interval(source: SourceConfig | None) -> timedelta:
    if source is None:
        return DEFAULT_INTERVAL
    if source.interval_minutes:
        return timedelta(minutes=source.interval_minutes)
    spec = REGISTRY.get(source.kind)
    return spec.default_interval if spec is not None else DEFAULT_INTERVAL

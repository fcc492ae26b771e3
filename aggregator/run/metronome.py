"""The metronome behind `pln run`: what it does each minute, and the clock that ticks it.

APScheduler only keeps time: one interval job calls `Metronome.tick` every
minute (coalesced, never two at once). What a tick does is derived from the
database and the clock alone, so a restart loses nothing and `pln send`
shares the sending path:

- fetches (sources due, and the sources of digests about to go, if stale)
  run on their own thread, in ingest's bounded pool; a tick never waits for
  them, so a slow source never delays a digest;
- sends run on the tick's thread: every digest due now, through the
  injected `send` (`aggregator.app.send.send_due_digests` with a mailer).

Stopping (`stop`, then `close`) takes no new work, lets the running send
batch finish, and ends the fetch run after its current write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.app.ingest import fetch_due_sources, refresh_stale_sources
from aggregator.app.preferences import effective_recipient
from aggregator.app.wiring import App
from aggregator.domain.clock import utc_now
from aggregator.domain.delivery import DeliveryOutcome, OutcomeStatus
from aggregator.domain.errors import PLNError
from aggregator.domain.logfmt import fields
from aggregator.domain.source import FetchOutcome
from digests.due import next_send_at, sending_soon

log = logging.getLogger(__name__)

TICK = timedelta(minutes=1)
P = ParamSpec("P")
R = TypeVar("R")

SendDue = Callable[[App], Sequence[DeliveryOutcome]]
"""Builds and sends every digest due for the app's clock; returns one outcome each."""
Hook = Callable[[App], None]
"""Work done on the tick's thread after the sends (the weekly health email)."""
Rebuild = Callable[[], App]
"""Reads the configuration again and builds a new app (SIGHUP)."""
Changed = Callable[[], bool]
"""Whether the configuration file changed since the last time it was asked."""


class _Stopping(Exception):
    """Raised between two stored sources to end a fetch run at shutdown."""


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did: the send outcomes, and whether a fetch run started."""

    sent: tuple[DeliveryOutcome, ...] = ()
    fetch_started: bool = False


class Metronome:
    """What `pln run` does each minute, callable directly by tests."""

    def __init__(
        self,
        app: App,
        send: SendDue,
        *,
        hooks: Sequence[Hook] = (),
        rebuild: Rebuild | None = None,
        changed: Changed | None = None,
    ) -> None:
        """Tick with `app`; `rebuild` makes a new one when a reload is requested,
        or at a tick when `changed` says the configuration file was edited."""
        self.app = app
        self._changed = changed
        self._send = send
        self._hooks = tuple(hooks)
        self._rebuild = rebuild
        self._tick_lock = threading.Lock()
        self._stopping = threading.Event()
        self._reload = threading.Event()
        self._fetcher: threading.Thread | None = None

    def tick(self) -> TickReport:
        """Start a fetch run unless one is still going, then send what is due."""
        with self._tick_lock:
            if self._stopping.is_set():
                return TickReport()
            self._reload_if_asked()
            started = self._start_fetch()
            sent = self._send_due()
            for hook in self._hooks:
                _guarded(f"tick hook {getattr(hook, '__name__', hook)!s}", hook, self.app)
            return TickReport(tuple(sent), started)

    def request_reload(self) -> None:
        """Rebuild the app from the configuration at the next tick (SIGHUP)."""
        self._reload.set()

    def stop(self) -> None:
        """Take no new work: later ticks do nothing, the fetch run ends after its
        current write. Safe to call from a signal handler."""
        self._stopping.set()

    def wait_for_fetch(self, timeout: float | None = None) -> bool:
        """Wait for the running fetch run; True when none is running any more."""
        fetcher = self._fetcher
        if fetcher is not None:
            fetcher.join(timeout)
        return fetcher is None or not fetcher.is_alive()

    def close(self, timeout: float = 30.0) -> bool:
        """Stop, wait for the running send batch and fetch run, close the app.

        Returns False when the fetch run was still going after `timeout`
        seconds (its current source is then lost and fetched again next time;
        what was stored stays). The app is closed either way.
        """
        self.stop()
        with self._tick_lock:  # the send batch of a running tick finishes first
            finished = self.wait_for_fetch(timeout)
            if not finished:
                log.warning("fetch still running at shutdown", extra=fields(event="shutdown"))
            self.app.close()
        return finished

    def _reload_if_asked(self) -> None:
        """Swap in a rebuilt app between ticks (asked, or the file was edited),
        once no fetch run uses the old one."""
        if self._changed is not None and self._changed():
            log.info("configuration file changed", extra=fields(event="reload"))
            self._reload.set()
        if not self._reload.is_set() or self._rebuild is None or not self.wait_for_fetch(0):
            return
        self._reload.clear()
        try:
            fresh = self._rebuild()
        except PLNError as exc:
            log.error("configuration not reloaded: %s", exc, extra=fields(event="reload", ok=False))
            return
        old, self.app = self.app, fresh
        old.close()
        log.info("configuration reloaded", extra=fields(event="reload", ok=True))

    def _start_fetch(self) -> bool:
        if not self.wait_for_fetch(0):
            return False  # the last run is still going: never two at once
        self._fetcher = threading.Thread(
            target=self._fetch_run, args=(self.app,), name="pln-fetch", daemon=True
        )
        self._fetcher.start()
        return True

    def _fetch_run(self, app: App) -> None:
        try:
            _guarded("refresh before send", refresh_before_send, app, self._progress)
            _guarded("fetch due sources", fetch_due_sources, app, self._progress)
        except _Stopping:
            log.info("fetch run stopped for shutdown", extra=fields(event="shutdown"))

    def _progress(self, outcome: FetchOutcome) -> None:
        log.info(
            "fetched %s",
            outcome.source_key,
            extra=fields(
                event="fetch",
                source=outcome.source_key,
                status=outcome.status,
                new=outcome.new_posts,
                updated=outcome.updated_posts,
                error=outcome.error or outcome.skipped or "",
            ),
        )
        if self._stopping.is_set():
            raise _Stopping  # its write is committed: a clean place to end

    def _send_due(self) -> Sequence[DeliveryOutcome]:
        outcomes = _guarded("send due digests", self._send, self.app) or ()
        if outcomes:
            sent = sum(o.status is OutcomeStatus.SENT for o in outcomes)
            log.info(
                "sent %d of %d digests",
                sent,
                len(outcomes),
                extra=fields(event="send", sent=sent, tried=len(outcomes)),
            )
        return outcomes


def refresh_before_send(
    app: App, progress: Callable[[FetchOutcome], None] | None = None
) -> list[FetchOutcome]:
    """Fetch now the sources followed by recipients whose digest goes within
    `[schedule] refresh_before_send_minutes`, unless fetched successfully
    within that time, so the digest is fresh."""
    within = timedelta(minutes=app.config.schedule.refresh_before_send_minutes)
    if not within:
        return []
    soon = sending_soon(app.clock(), app.config.recipients, within, app.config.calendar.holidays)
    keys = sorted({key for recipient in soon for key in recipient.follow})
    return refresh_stale_sources(app, keys, within, progress) if keys else []


def next_digests(app: App) -> list[tuple[str, datetime | None]]:
    """Each configured recipient's email and when their next digest is
    planned (None: none within a year), for `pln status`."""
    now = app.clock()
    emails = [r.email for r in app.config.recipients]
    recorded = app.repo.recorded_days(emails, (now - timedelta(days=2)).date())
    # With each teacher's own send time and days (a paused one's next digest
    # is shown as it would be without the pause; `pln status` lists pauses).
    chosen = [effective_recipient(app, r) for r in app.config.recipients]
    return [
        (r.email, next_send_at(now, r, app.config.calendar.holidays, recorded.get(r.email, set())))
        for r in chosen
    ]


def _guarded(what: str, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """Run one job's work; an error is logged and the service goes on (the
    next tick tries again, as what is due comes from the database)."""
    try:
        return work(*args, **kwargs)
    except _Stopping:
        raise
    except PLNError as exc:
        log.error("%s failed: %s", what, exc, extra=fields(event="error", job=what))
    except Exception:  # a bug in one job must not stop the service
        log.exception("%s: unexpected error", what, extra=fields(event="error", job=what))
    return None


def build_scheduler(metronome: Metronome, every: timedelta = TICK) -> BlockingScheduler:
    """A BlockingScheduler ticking `metronome` every `every`, first at once.

    Coalesced and one instance at a time: after a suspend or a long tick the
    missed ticks become one, as what is due is read afresh anyway.
    """
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        metronome.tick,
        IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
        id="metronome",
        name="metronome",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(every.total_seconds()) or 1,
        next_run_time=utc_now(),
    )
    return scheduler

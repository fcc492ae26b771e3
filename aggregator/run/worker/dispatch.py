"""`pln run` with `[queue]` set: work out what is due and enqueue it.

Each tick reads what is due from the database and the clock alone (the
sources due, the stale sources of digests going soon, the digests due and
the retries whose time has come, which include the claims of workers that
died) and enqueues one task each. A task waiting in the queue holds a
"queued" lease, so it is enqueued once, and again only after
`[queue] requeue_seconds` in case the broker lost it. The weekly health
email and the daily pruning stay here, on the tick's thread.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from celery import Celery

from aggregator.app.units import DigestUnit, fetch_marker, plan_digests, plan_fetches
from aggregator.app.wiring import App
from aggregator.config.types import QueueConfig
from aggregator.domain.logfmt import fields
from aggregator.run.metronome import Changed, Hook, Metronome, Rebuild, TickReport
from aggregator.run.worker.celery_app import FETCH_TASK, SEND_TASK, one_line

log = logging.getLogger(__name__)

Publish = Callable[[str, tuple[str, ...]], None]
"""Sends one task (its name and arguments) to the broker; raises when it cannot."""


def celery_publisher(celery: Celery, queue: QueueConfig) -> Publish:
    """Publish through `celery` to the workers' queue."""

    def publish(name: str, args: tuple[str, ...]) -> None:
        celery.send_task(name, args=args, queue=queue.task_queue)

    return publish


class Dispatcher(Metronome):
    """What `pln run` does each tick when workers do the work."""

    def __init__(
        self,
        app: App,
        queue: QueueConfig,
        publish: Publish,
        *,
        hooks: Sequence[Hook] = (),
        rebuild: Rebuild | None = None,
        changed: Changed | None = None,
        holder: str = "",
    ) -> None:
        """Plan with `app`, enqueue with `publish`; `queue` names the broker in
        errors; `holder` names this scheduler in leases (default: host and pid)."""
        super().__init__(app, lambda _app: (), hooks=hooks, rebuild=rebuild, changed=changed)
        self._queue = queue
        self._publish = publish
        self._holder = holder or f"scheduler:{socket.gethostname()}:{os.getpid()}"
        self._broker_down = False

    def tick(self) -> TickReport:
        """Enqueue what is due; then the hooks."""
        with self._tick_lock:
            if self._stopping.is_set():
                return TickReport()
            self._reload_if_asked()
            self.enqueue_due()
            for hook in self._hooks:
                _run_hook(hook, self.app)
            return TickReport()

    def enqueue_due(self) -> int:
        """Enqueue every due unit not waiting in the queue already; how many were."""
        app = self.app
        now = app.clock()
        within = timedelta(minutes=app.config.schedule.refresh_before_send_minutes)
        count = 0
        try:
            for key in plan_fetches(app, within):
                count += self._enqueue(fetch_marker(key), FETCH_TASK, (key, now.isoformat()), now)
            for unit in plan_digests(app):
                count += self._enqueue(unit.marker, SEND_TASK, _digest_args(unit), now)
            app.repo.prune_leases(now - timedelta(days=1))
        except _BrokerDown:
            pass  # said once; the next tick tries again
        except Exception as exc:  # the database restarting: the next tick tries again
            log.error("planning failed: %s", exc, extra=fields(event="error", job="plan"))
        if count:
            log.info("enqueued %d tasks", count, extra=fields(event="enqueue", tasks=count))
        return count

    def _enqueue(self, marker: str, task: str, args: tuple[str, ...], now: datetime) -> int:
        repo, ttl = self.app.repo, timedelta(seconds=self._queue.requeue_seconds)
        if repo.take_lease(marker, self._holder, now, ttl) is None:
            return 0  # waiting in the queue already (or enqueued by another scheduler)
        try:
            self._publish(task, (*args, marker))
        except Exception as exc:  # kombu raises the transport's own errors
            repo.release_lease(marker, self._holder)
            self._say_down(one_line(exc, self._queue))
            raise _BrokerDown from exc
        if self._broker_down:
            self._broker_down = False
            log.info("broker reachable again", extra=fields(event="broker", ok=True))
        return 1

    def _say_down(self, message: str) -> None:
        """One line when the broker goes away (stderr and the log), not one a tick."""
        log.error("%s; retrying", message, extra=fields(event="broker", ok=False))
        if not self._broker_down:
            sys.stderr.write(f"error: {message}; retrying every {self._queue.tick_seconds} s\n")
            sys.stderr.flush()
        self._broker_down = True


class _BrokerDown(Exception):
    """The broker refused a task: stop this tick's enqueueing."""


def _digest_args(unit: DigestUnit) -> tuple[str, ...]:
    return (unit.email, unit.local_day.isoformat())


def _run_hook(hook: Hook, app: App) -> None:
    try:
        hook(app)
    except Exception:  # a bug in one hook must not stop the scheduler
        log.exception("tick hook failed", extra=fields(event="error", job="hook"))

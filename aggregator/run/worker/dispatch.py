"""`pln run` with `[queue]` set: work out what is due and enqueue it.

Each tick reads what is due from the database and the clock alone (the
sources due, the stale sources of digests going soon, the digests due and
the retries whose time has come, which include the claims of workers that
died) and enqueues one task each. A task waiting in the queue holds a
"queued" lease, so it is enqueued once, and again only after
`[queue] requeue_seconds` in case the broker lost it. The weekly health
email and the daily pruning stay here, on the tick's thread.

A state's 06:30 is hundreds of thousands of digests due in one tick, so
they are enqueued in batches: the "queued" leases of a batch taken in one
transaction, its tasks published over one broker connection, and the
leases of the tasks the broker did not take given back in one more.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from celery import Celery

from aggregator.app.units import DigestUnit, fetch_marker, plan_digests, plan_fetches
from aggregator.app.wiring import App
from aggregator.config.types import QueueConfig
from aggregator.domain.logfmt import fields
from aggregator.run.metronome import Changed, Hook, Metronome, Rebuild, TickReport
from aggregator.run.worker.celery_app import FETCH_TASK, SEND_TASK, one_line

log = logging.getLogger(__name__)

# Units a batch enqueues: its leases are one transaction, its tasks one
# stretch of one broker connection, while the workers start on the batch before.
BATCH = 1000


class QueuedTask(NamedTuple):
    """A task to enqueue: its "queued" lease, its name and its arguments."""

    marker: str
    name: str
    args: tuple[str, ...]


Publish = Callable[[Sequence[tuple[str, tuple[str, ...]]]], None]
"""Sends tasks (name and arguments each) to the broker, in order; raises
`Unpublished` (how many went first) when it cannot send them all."""


class Unpublished(Exception):
    """The broker took only the first `sent` tasks of a batch."""

    def __init__(self, sent: int) -> None:
        """`sent`: how many tasks the broker took before it failed."""
        super().__init__(f"{sent} tasks sent")
        self.sent = sent


def celery_publisher(celery: Celery, queue: QueueConfig) -> Publish:
    """Publish through `celery` to the workers' queue, a batch over one connection."""

    def publish(tasks: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        sent = 0
        try:
            with celery.producer_or_acquire() as producer:
                for name, args in tasks:
                    celery.send_task(name, args=args, queue=queue.task_queue, producer=producer)
                    sent += 1
        except Exception as exc:  # kombu raises the transport's own errors
            raise Unpublished(sent) from exc

    return publish


def fetch_task(key: str, now: datetime) -> QueuedTask:
    """ "Fetch source `key`", enqueued at `now`."""
    return QueuedTask(fetch_marker(key), FETCH_TASK, (key, now.isoformat()))


def digest_task(unit: DigestUnit) -> QueuedTask:
    """ "Build and send this digest"."""
    return QueuedTask(unit.marker, SEND_TASK, (unit.email, unit.local_day.isoformat()))


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
            tasks = [fetch_task(key, now) for key in plan_fetches(app, within)]
            tasks += [digest_task(unit) for unit in plan_digests(app)]
            count = self.enqueue(tasks, now)
            app.repo.prune_leases(now - timedelta(days=1))
        except Exception as exc:  # the database restarting: the next tick tries again
            log.error("planning failed: %s", exc, extra=fields(event="error", job="plan"))
        if count:
            log.info("enqueued %d tasks", count, extra=fields(event="enqueue", tasks=count))
        return count

    def enqueue(self, tasks: Sequence[QueuedTask], now: datetime) -> int:
        """Enqueue each of `tasks` not waiting in the queue already, in batches;
        how many were. Stops at the first batch the broker refuses (said once;
        the next tick tries again). Raises `StorageError`."""
        count = 0
        for start in range(0, len(tasks), BATCH):
            sent, down = self._enqueue_batch(tasks[start : start + BATCH], now)
            count += sent
            if down:
                break
        return count

    def _enqueue_batch(self, batch: Sequence[QueuedTask], now: datetime) -> tuple[int, bool]:
        """Publish the tasks of `batch` whose lease this scheduler takes; how
        many went, and whether the broker failed."""
        repo, ttl = self.app.repo, timedelta(seconds=self._queue.requeue_seconds)
        # Those not taken wait in the queue already (or another scheduler enqueued them).
        taken = repo.take_leases([task.marker for task in batch], self._holder, now, ttl)
        todo = [task for task in batch if task.marker in taken]
        if not todo:
            return 0, False
        try:
            self._publish([(task.name, (*task.args, task.marker)) for task in todo])
        except Exception as exc:  # kombu raises the transport's own errors
            sent = exc.sent if isinstance(exc, Unpublished) else 0
            cause = exc.__cause__ if isinstance(exc, Unpublished) and exc.__cause__ else exc
            # Not in the queue: the next tick enqueues them again.
            repo.release_leases([task.marker for task in todo[sent:]], self._holder)
            self._say_down(one_line(cause, self._queue))
            return sent, True
        if self._broker_down:
            self._broker_down = False
            log.info("broker reachable again", extra=fields(event="broker", ok=True))
        return len(todo), False

    def _say_down(self, message: str) -> None:
        """One line when the broker goes away (stderr and the log), not one a tick."""
        log.error("%s; retrying", message, extra=fields(event="broker", ok=False))
        if not self._broker_down:
            sys.stderr.write(f"error: {message}; retrying every {self._queue.tick_seconds} s\n")
            sys.stderr.flush()
        self._broker_down = True


def _run_hook(hook: Hook, app: App) -> None:
    try:
        hook(app)
    except Exception:  # a bug in one hook must not stop the scheduler
        log.exception("tick hook failed", extra=fields(event="error", job="hook"))

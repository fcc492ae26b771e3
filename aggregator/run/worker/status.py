"""What `pln status` shows of the workers: the queue, who is alive, the oldest wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from celery import Celery

from aggregator.app.units import QUEUED
from aggregator.app.wiring import App
from aggregator.run.worker.celery_app import make_celery, one_line

# How long `pln status` waits for workers to answer a ping.
PING_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """The broker's queue and the workers, as `pln status` prints them."""

    broker: str
    depth: int | None = None
    """Tasks waiting in the broker's queue; None when the broker cannot be reached."""
    workers: tuple[str, ...] = ()
    """The workers that answered a ping."""
    waiting: int = 0
    """Tasks enqueued and not yet started, as the database records them."""
    oldest_waiting_since: datetime | None = None
    problem: str = ""


def queue_status(app: App) -> QueueStatus | None:
    """The queue's depth, the workers alive and the oldest waiting task; None
    without `[queue]`. A broker that cannot be reached is said in `problem`."""
    queue = app.config.queue
    if queue is None:
        return None
    waiting, oldest = app.repo.oldest_lease(QUEUED, app.clock())
    celery = make_celery(queue)
    base = QueueStatus(queue.broker_url, waiting=waiting, oldest_waiting_since=oldest)
    try:
        depth = _depth(celery, queue.task_queue)
        replies = celery.control.inspect(timeout=PING_TIMEOUT_S).ping() or {}
    except Exception as exc:  # kombu raises the transport's own errors
        return QueueStatus(
            base.broker, waiting=waiting, oldest_waiting_since=oldest, problem=one_line(exc, queue)
        )
    return QueueStatus(
        base.broker,
        depth=depth,
        workers=tuple(sorted(replies)),
        waiting=waiting,
        oldest_waiting_since=oldest,
    )


def _depth(celery: Celery, name: str) -> int:
    """Messages in the queue; 0 when the broker has no such queue yet."""
    with celery.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.channel()
        try:
            return int(channel.queue_declare(queue=name, passive=True).message_count)
        except conn.channel_errors:  # not declared yet (or emptied, on Redis)
            return 0
        finally:
            try:
                channel.close()
            except conn.connection_errors + conn.channel_errors:
                pass

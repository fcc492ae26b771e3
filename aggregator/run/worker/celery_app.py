"""The Celery application of `pln worker` and of `pln run` with `[queue]` set.

Tasks are acknowledged late and given back when their worker is lost, so a
task whose worker died runs again; the claim in the database decides
whether there is anything left to do. The broker's own redelivery of a
lost task (Redis: after the visibility timeout) is only a safety net: the
scheduler re-enqueues from the database what a dead worker held once its
lease has ended, within `[queue] lease_seconds` and a tick.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from aggregator.config.types import QueueConfig

FETCH_TASK = "pln.fetch_source"
SEND_TASK = "pln.send_digest"
# The longest a task may run: a fetch (timeouts, a slow network) or a send
# (SMTP timeouts, and up to 3 minutes recording a 250 while the database is down).
TIME_LIMIT_S = 600
SOFT_TIME_LIMIT_S = 540
# Longer than the longest task, or Redis would hand a running task to a
# second worker.
VISIBILITY_TIMEOUT_S = 3 * TIME_LIMIT_S
# A scheduler tick must not hang on a broker that is down: one quick retry,
# then the tick goes on and the next one tries again.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5}


def shown_broker(queue: QueueConfig) -> str:
    """The broker URL as logs and errors may show it (no password)."""
    return str(maybe_sanitize_url(queue.broker_url))


def make_celery(queue: QueueConfig) -> Celery:
    """A Celery app on the broker of `queue`, set up for at-least-once tasks."""
    app = Celery("pln", broker=queue.url(), set_as_current=False)
    app.conf.update(_settings(queue))
    return app


def _settings(queue: QueueConfig) -> dict[str, Any]:
    return {
        "task_default_queue": queue.task_queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_time_limit": TIME_LIMIT_S,
        "task_soft_time_limit": SOFT_TIME_LIMIT_S,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        # One task at a time per process: nothing waits reserved behind a
        # long task, and a worker that dies holds only what it was running.
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 4.0,
        # A broker lost mid-task: the task finishes (its outcome is in the
        # database); its acknowledgement may be lost, and a second copy is a no-op.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_publish_retry_policy": _PUBLISH_RETRY,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_send_task_events": False,
        "worker_enable_remote_control": True,
    }


def broker_problem(app: Celery, queue: QueueConfig) -> str | None:
    """Why the broker cannot be reached now (one line), or None when it can."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises the transport's own errors
        return one_line(exc, queue)
    return None


def one_line(exc: BaseException, queue: QueueConfig) -> str:
    """The first line of a broker error, the broker's password hidden."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    if queue.password is not None:
        message = message.replace(queue.password.reveal(), "***")
    return f"cannot reach the broker {shown_broker(queue)}: {message}"

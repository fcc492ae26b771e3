"""What a worker shows Prometheus: the counts of `aggregator.app.metrics`, how
long each task took (Celery's task_prerun / task_postrun signals), served at
`[queue] metrics_listen`.

Celery's prefork pool runs tasks in child processes, each counting apart:
prometheus_client's multiprocess mode adds their counts up at each scrape,
and needs `PROMETHEUS_MULTIPROC_DIR` set to an empty directory before the
worker starts (see aggregator.app.metrics).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from celery.signals import task_postrun, task_prerun

from aggregator.app import metrics
from aggregator.config.types import QueueConfig
from aggregator.domain.errors import PLNError

# Task id -> when it started, in the child process running it.
_started: dict[str, float] = {}


def start_worker_metrics(queue: QueueConfig, concurrency: int | None) -> Callable[[], None]:
    """Count this worker's tasks; serve the counts when `[queue] metrics_listen` is
    set, until the function returned is called (the worker never does).

    Raises PLNError (one line) when the counts could not be added up or served.
    """
    metrics.enable()
    task_prerun.connect(_task_began, weak=False, dispatch_uid="pln-task-began")
    task_postrun.connect(_task_ended, weak=False, dispatch_uid="pln-task-ended")
    if not queue.metrics_listen:
        return lambda: None
    if concurrency != 1 and not os.environ.get(metrics.MULTIPROC_ENV):
        raise PLNError(
            f"[queue] metrics_listen needs {metrics.MULTIPROC_ENV} set to an empty directory "
            "before pln worker starts (its processes count apart; a scrape adds up their "
            "files), or --concurrency 1"
        )
    host, _, port = queue.metrics_listen.rpartition(":")
    try:
        return metrics.serve(int(port), host.strip("[]") or "0.0.0.0")
    except OSError as exc:
        raise PLNError(
            f"[queue] metrics_listen {queue.metrics_listen}: cannot listen there "
            f"({exc.strerror or exc}); choose another port"
        ) from exc


def _task_began(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_ended(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    began = _started.pop(task_id, None) if task_id else None
    if began is not None and task is not None:
        metrics.observe_task(str(task.name), time.perf_counter() - began)

"""`pln worker`: a Celery worker running the units of `aggregator.app.units`.

See `celery_app` for how tasks are acknowledged, `tasks` for the two
tasks, `dispatch` for what `pln run` enqueues, and `status` for what
`pln status` shows of them.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from celery import Celery

from aggregator.app.config import load_config
from aggregator.config.types import QueueConfig
from aggregator.domain.errors import PLNError
from aggregator.domain.logfmt import fields
from aggregator.run.worker.celery_app import broker_problem, make_celery, shown_broker
from aggregator.run.worker.observe import start_worker_metrics
from aggregator.run.worker.tasks import register

log = logging.getLogger(__name__)

__all__ = ["run_worker"]

# How often a worker started while the broker is down tries it again.
BROKER_RETRY_S = 5.0


def run_worker(config_path: str, concurrency: int | None = None) -> int:
    """Run a Celery worker for the configuration at `config_path` until stopped
    (SIGTERM: warm shutdown, running tasks finish); returns the exit status.

    Raises ConfigError, or PLNError when the configuration has no `[queue]`.
    """
    config = load_config(config_path)
    if config.queue is None:
        raise PLNError(
            f"{config.path} has no [queue]: `pln worker` needs a broker "
            '(add [queue] broker_url = "redis://127.0.0.1:6379/0"); without one, `pln run` '
            "does all the work"
        )
    celery = make_celery(config.queue)
    register(celery, config.path)
    start_worker_metrics(config.queue, concurrency)
    _wait_for_broker(celery, config.queue)
    argv = ["worker", "--queues", config.queue.task_queue, "--loglevel", "INFO"]
    # A node name of its own: `pln status` counts each worker, several per machine too.
    argv += ["--without-mingle", "--hostname", f"pln{os.getpid()}@%h"]
    argv += ["--without-gossip"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    log.info(
        "worker started",
        extra=fields(event="worker", broker=shown_broker(config.queue), concurrency=concurrency),
    )
    celery.worker_main(argv)
    return 0


def _wait_for_broker(celery: Celery, queue: QueueConfig) -> None:
    """Say once, on one line, that the broker is down, and wait until it is up."""
    said = False
    while (problem := broker_problem(celery, queue)) is not None:
        log.error("%s; retrying", problem, extra=fields(event="broker", ok=False))
        if not said:
            sys.stderr.write(f"error: {problem}; retrying every {BROKER_RETRY_S:g} s\n")
            sys.stderr.flush()
            said = True
        time.sleep(BROKER_RETRY_S)
    if said:
        sys.stderr.write("broker reachable: worker starting\n")
        log.info("broker reachable", extra=fields(event="broker", ok=True))

"""The two tasks a worker runs, each one unit of `aggregator.app.units`.

Each worker process opens the app (database, connectors) once, at its first
task, and keeps it: a process forked from the worker's main process must
not share the parent's database connections. A task holds what it works on
with a lease renewed while it runs (`aggregator.app.heartbeat`).

Temporary failures are retried with back-off; what the app records in the
database (a source's back-off, a delivery's retry time) is enqueued again
by the scheduler when its time comes.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import closing
from datetime import date, datetime
from typing import Any

from celery import Celery

from aggregator.app.config import load_config
from aggregator.app.units import fetch_unit, release_marker, send_unit
from aggregator.app.wiring import App, build_app, build_mailer
from aggregator.domain.errors import RateLimited, StorageError, TemporaryFailure
from aggregator.domain.logfmt import fields
from aggregator.run.worker.celery_app import FETCH_TASK, SEND_TASK
from digests.memo import DigestMemo

log = logging.getLogger(__name__)

# Failures that may pass: the database restarting, a mail server or a
# network asking to wait. Anything else is recorded by the unit itself.
RETRYABLE = (StorageError, TemporaryFailure, RateLimited)
_RETRY = {
    "autoretry_for": RETRYABLE,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 10,
}


class _Process:
    """This worker process's app, opened at its first task."""

    config_path = ""
    app: App | None = None
    # What the digests of this process work out once (bounded: it forgets
    # the least recently used), as a `pln send` batch shares it.
    memo = DigestMemo()

    @classmethod
    def get(cls) -> App:
        if cls.app is None:
            # In the pool's own process: fetch threads, not parse processes
            # (the pool is already one process per core).
            cls.app = build_app(load_config(cls.config_path), parallel_parsing=False)
        return cls.app


def holder() -> str:
    """Who holds a lease: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fetch_source(task: Any, key: str, enqueued_at: str, marker: str) -> str:
    """Task "fetch source K": fetch it unless another worker is, or it was
    fetched since it was enqueued; returns what happened, in a word."""
    app = _Process.get()
    release_marker(app, marker)
    outcome = fetch_unit(app, key, holder(), datetime.fromisoformat(enqueued_at))
    if outcome is None:
        return "dropped"
    log.info(
        "fetched %s",
        key,
        extra=fields(event="fetch", source=key, new=outcome.new_posts, error=outcome.error or ""),
    )
    return "failed" if outcome.error else "fetched"


def send_digest(task: Any, email: str, local_day: str, marker: str) -> str:
    """Task "build and send recipient R's digest for local day D"."""
    app = _Process.get()
    release_marker(app, marker)
    with closing(build_mailer(app.config.email)) as mailer:
        outcome = send_unit(app, mailer, email, date.fromisoformat(local_day), _Process.memo)
    if outcome is None:
        return "nothing to do"
    log.info(
        "digest for %s %s: %s",
        email,
        local_day,
        outcome.status,
        extra=fields(event="send", status=outcome.status, error=outcome.error or ""),
    )
    return str(outcome.status)


def register(celery: Celery, config_path: str) -> None:
    """Register both tasks on `celery`, their processes reading `config_path`."""
    _Process.config_path = config_path
    options = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, **_RETRY}
    celery.task(name=FETCH_TASK, **options)(fetch_source)
    celery.task(name=SEND_TASK, **options)(send_digest)

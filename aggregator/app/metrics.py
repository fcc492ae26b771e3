"""What the service counts for Prometheus (prometheus_client): fetches by
outcome, fetch errors by source kind, digests the mail server accepted, and
how long a worker's tasks take.

Counting is switched on by the long-running processes that are scraped
(`pln serve`, `pln run`, `pln worker`) with `enable()`; a one-shot command
counts nothing and never imports prometheus_client (a fifth of a second of
start-up). `exposition()` is what a scrape of `/metrics` answers.

A worker that forks (Celery's prefork pool), or several processes on one
machine, run in prometheus_client's multiprocess mode:
`PROMETHEUS_MULTIPROC_DIR` names an empty directory, set before the
processes start, where each writes its counts, and a scrape of any of them
adds them all up (https://prometheus.github.io/client_python/multiprocess/).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aggregator.domain.source import FetchOutcome

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A fetch takes 0.1 s to a minute; a digest, tens of milliseconds to seconds.
TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True, slots=True)
class _Metrics:
    fetches: Counter
    fetch_errors: Counter
    digests_sent: Counter
    task_seconds: Histogram


_lock = threading.Lock()
_metrics: _Metrics | None = None


def enable() -> None:
    """Start counting in this process (idempotent)."""
    global _metrics
    with _lock:
        if _metrics is not None:
            return
        from prometheus_client import Counter, Histogram

        _metrics = _Metrics(
            Counter(
                "pln_fetches",
                "Source fetches, by outcome: ok, not_modified, error, skipped.",
                ["outcome"],
            ),
            Counter("pln_fetch_errors", "Source fetches that failed, by source kind.", ["kind"]),
            Counter("pln_digests_sent", "Digests the mail server accepted."),
            Histogram(
                "pln_task_seconds",
                "Time a worker spent on one task, by task.",
                ["task"],
                buckets=TASK_BUCKETS,
            ),
        )


def record_fetch(outcome: FetchOutcome, kind: str) -> None:
    """Count one fetch of a source of `kind` (its `ConnectorSpec.kind`)."""
    if _metrics is None:
        return
    if outcome.skipped:
        label = "skipped"
    elif outcome.error:
        label = "error"
        _metrics.fetch_errors.labels(kind=kind or "unknown").inc()
    elif outcome.not_modified:
        label = "not_modified"
    else:
        label = "ok"
    _metrics.fetches.labels(outcome=label).inc()


def record_sent() -> None:
    """Count one digest the mail server accepted."""
    if _metrics is not None:
        _metrics.digests_sent.inc()


def observe_task(task: str, seconds: float) -> None:
    """Count one run of `task` that took `seconds`."""
    if _metrics is not None:
        _metrics.task_seconds.labels(task=task).observe(seconds)


@contextmanager
def timed_task(task: str) -> Iterator[None]:
    """Time the block as one run of `task`, whether it ends well or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe_task(task, time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The current counts in Prometheus's text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    enable()
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def serve(port: int, address: str = "127.0.0.1") -> Callable[[], None]:
    """Answer scrapes at http://`address`:`port`/metrics from a thread of this
    process, until the function returned is called. Raises OSError when the
    port is taken."""
    from prometheus_client import start_http_server

    enable()
    server, thread = start_http_server(port, address, registry=_registry())

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def _registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    # Multiprocess mode: a fresh registry reads every process's files at each scrape.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
    return registry

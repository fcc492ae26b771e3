"""What the service counts for Prometheus (prometheus_client): fetches by
outcome, fetch errors by source kind, digests the mail server accepted, and
how long a worker's tasks take.

The counters live in the process that does the work; `exposition()` is what
a scrape of `/metrics` answers, on the web server and on each worker. A
worker that forks (Celery's prefork pool) runs in prometheus_client's
multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` names an empty directory,
set before the worker starts, where every process writes its counts, and a
scrape adds them up (https://prometheus.github.io/client_python/multiprocess/).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from aggregator.domain.source import FetchOutcome

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

FETCHES = Counter(
    "pln_fetches",
    "Source fetches, by outcome: ok, not_modified, error, skipped.",
    ["outcome"],
)
FETCH_ERRORS = Counter(
    "pln_fetch_errors",
    "Source fetches that failed, by source kind.",
    ["kind"],
)
DIGESTS_SENT = Counter("pln_digests_sent", "Digests the mail server accepted.")
TASK_SECONDS = Histogram(
    "pln_task_seconds",
    "Time a worker spent on one task, by task.",
    ["task"],
    # A fetch takes 0.1 s to a minute; a digest, tens of milliseconds to seconds.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def record_fetch(outcome: FetchOutcome, kind: str) -> None:
    """Count one fetch of a source of `kind` (its `ConnectorSpec.kind`)."""
    if outcome.skipped:
        label = "skipped"
    elif outcome.error:
        label = "error"
        FETCH_ERRORS.labels(kind=kind or "unknown").inc()
    elif outcome.not_modified:
        label = "not_modified"
    else:
        label = "ok"
    FETCHES.labels(outcome=label).inc()


def record_sent() -> None:
    """Count one digest the mail server accepted."""
    DIGESTS_SENT.inc()


@contextmanager
def timed_task(task: str) -> Iterator[None]:
    """Time the block as one run of `task`, whether it ends well or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        TASK_SECONDS.labels(task=task).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The current counts in Prometheus's text format, and its content type."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def serve(port: int, address: str = "127.0.0.1") -> Callable[[], None]:
    """Answer scrapes at http://`address`:`port`/metrics from a thread of this
    process, until the function returned is called. Raises OSError when the
    port is taken."""
    server, thread = start_http_server(port, address, registry=_registry())

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def _registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    # Multiprocess mode: a fresh registry per scrape reads every process's files.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
    return registry

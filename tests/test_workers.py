"""Real `pln worker` processes and `pln run` schedulers on PostgreSQL and a real
broker: a worker killed with SIGKILL in the middle of a send, two schedulers
by mistake, every recipient still gets exactly one digest and every post is
stored once; the dead worker's digest goes out from another within two
minutes (seconds, with the short leases these tests configure)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aggregator.run.demo.server import FeedServer
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.smtp_server import Script, free_port, smtp_server
from tests.tcp_proxy import Proxy, tcp_proxy
from tests.workers_env import (
    RABBITMQ,
    REDIS,
    REDIS_DB,
    Deployment,
    feed,
    kill_group,
    listening,
    owner_of_client_port,
    redis_server,
    wait_until,
)

SOURCES = 6
ITEMS = 5
RECIPIENTS = 12

needs_redis = pytest.mark.needs_server(
    bool(POSTGRES_URL) and listening(REDIS),
    "needs PLN_TEST_DATABASE_URL (PostgreSQL) and Redis on 127.0.0.1:6379",
)
needs_rabbitmq = pytest.mark.needs_server(
    bool(POSTGRES_URL) and listening(RABBITMQ),
    "needs PLN_TEST_DATABASE_URL (PostgreSQL) and RabbitMQ on 127.0.0.1:5672",
)


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    routes = {
        f"/{n}.rss": ("application/rss+xml", feed(f"feed-{n}", ITEMS)) for n in range(SOURCES)
    }
    # A stray end tag crashes feedparser's own parser (TypeError), every time.
    poison = b'<?xml version="1.0"?><rss version="2.0"><channel></width></channel></rss>'
    routes["/poison.rss"] = ("application/rss+xml", poison)
    with FeedServer(routes, latency_s=0.2) as srv:
        yield srv


def _deployment(tmp: Path, feeds: FeedServer, smtp_port: int, broker: str) -> Deployment:
    _reset_postgres(POSTGRES_URL)  # empty: the processes set it up together
    return Deployment(
        tmp=tmp,
        database_url=POSTGRES_URL,
        broker_url=broker,
        feeds_url=feeds.base_url,
        feeds_port=feeds.port,
        smtp_port=smtp_port,
        sources=SOURCES,
        recipients=RECIPIENTS,
    )


def _assert_exactly_once(deployment: Deployment, script: Script) -> None:
    for email in deployment.emails:
        assert len(script.to(email)) == 1, email
    assert deployment.count("SELECT count(*) FROM deliveries WHERE status = 'sent'") == RECIPIENTS
    assert deployment.count("SELECT count(*) FROM posts") == SOURCES * ITEMS
    assert (
        deployment.count(
            "SELECT count(*) FROM (SELECT 1 FROM posts GROUP BY source_key, external_id "
            "HAVING count(*) > 1) AS twice"
        )
        == 0
    )


def _all_delivered(deployment: Deployment, script: Script) -> bool:
    return (
        all(script.to(e) for e in deployment.emails)
        and deployment.count("SELECT count(*) FROM posts") == SOURCES * ITEMS
    )


def _flush_redis() -> None:
    with redis.Redis(*REDIS, db=REDIS_DB) as client:
        client.flushdb()


@needs_redis
def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, feeds: FeedServer
) -> None:
    _flush_redis()
    stalled = "teacher3@school.example"
    script = Script(stall_rcpt={stalled: 1})
    with smtp_server(script) as port:
        broker = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
        deployment = _deployment(tmp_path, feeds, port, broker)
        deployment.write_config()
        try:
            # Cold start: two schedulers (one by mistake) and two workers at once,
            # on an empty database. One task at a time each, so the worker killed
            # holds the stalled send alone (a send killed right after the server's
            # 250 would rightly stay "unknown", never sent again).
            workers = [
                deployment.start("worker", "--concurrency", "1", name=f"worker-{n}")
                for n in range(2)
            ]
            for n in range(2):
                deployment.start("run", name=f"scheduler-{n}")
            wait_until(script.stalled_event.is_set, 40, "the stalled recipient's send")
            pid = owner_of_client_port(script.stalled[0][1])
            victim = next(w for w in workers if pid is not None and _in_group(pid, w.pid))
            kill_group(victim)
            killed_at = time.monotonic()
            taken_over = wait_until(lambda: bool(script.to(stalled)), 110, "the takeover")
            wait_until(lambda: _all_delivered(deployment, script), 40, "every digest and post")
            time.sleep(deployment.lease_seconds + 2)  # time for a wrong second copy to show
        finally:
            deployment.stop_all()
        assert time.monotonic() - killed_at < 120
        assert taken_over < 60  # leases of 2 s and ticks of 1 s: seconds, not an hour
        _assert_exactly_once(deployment, script)
        assert "Traceback" not in deployment.errors()


def _in_group(pid: int, group: int) -> bool:
    import os

    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False


@needs_rabbitmq
def test_rabbitmq_as_broker_sends_each_digest_once_past_a_poisoned_source(
    tmp_path: Path, feeds: FeedServer
) -> None:
    script = Script()
    with smtp_server(script) as port:
        broker = f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}//"
        deployment = _deployment(tmp_path, feeds, port, broker)
        deployment.task_queue = "pln_test_workers_amqp"
        deployment.poisoned = True  # its fetch always crashes the parser
        deployment.write_config()
        try:
            deployment.start("worker", "--concurrency", "2", name="worker")
            deployment.start("run", name="scheduler")
            wait_until(lambda: _all_delivered(deployment, script), 60, "every digest and post")
            time.sleep(1)
        finally:
            deployment.stop_all()
        _assert_exactly_once(deployment, script)
        failing = "SELECT count(*) FROM sources WHERE key = 'poison' AND consecutive_failures > 0"
        assert deployment.count(failing) == 1


def _pln_status(deployment: Deployment) -> str:
    import os
    import subprocess
    import sys

    script = Path(sys.executable).with_name("pln")
    env = dict(os.environ, PLN_LOG_FILE=str(deployment.tmp / "status.log"))
    result = subprocess.run(
        [str(script), "status", "--config", str(deployment.tmp / "pln.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_redis
@pytest.mark.needs_server(shutil.which("redis-server") is not None, "needs redis-server")
def test_broker_down_at_start_is_one_line_then_waited_for(
    tmp_path: Path, feeds: FeedServer
) -> None:
    script = Script()
    with smtp_server(script) as smtp_port:
        broker_port = free_port()
        deployment = _deployment(tmp_path, feeds, smtp_port, f"redis://127.0.0.1:{broker_port}/0")
        deployment.write_config()
        try:
            deployment.start("worker", "--concurrency", "2", name="worker")
            deployment.start("run", name="scheduler")
            wait_until(lambda: deployment.errors().count("error:") >= 2, 30, "both errors")
            with redis_server(broker_port):
                wait_until(lambda: _all_delivered(deployment, script), 60, "every digest")
                status = _pln_status(deployment)
                assert "Workers alive: 1" in status, status
                time.sleep(1)
        finally:
            deployment.stop_all()
        _assert_exactly_once(deployment, script)
        errors = deployment.errors()
        lines = [line for line in errors.splitlines() if line.startswith("error:")]
        assert len(lines) == 2, errors  # one line each, not one per retry
        assert all(f"cannot reach the broker redis://127.0.0.1:{broker_port}/0" in x for x in lines)
        assert "Traceback" not in errors


@needs_redis
def test_broker_lost_and_database_restarted_mid_run_lose_nothing(
    tmp_path: Path, feeds: FeedServer
) -> None:
    _flush_redis()
    cut = threading.Event()
    with (
        tcp_proxy(REDIS) as broker,
        tcp_proxy(("127.0.0.1", _pg_port())) as database,
    ):

        def outage() -> None:
            if len(script.received) == 3 and not cut.is_set():
                cut.set()
                threading.Thread(target=_outage, args=(broker, database)).start()

        script = Script(on_accept=outage)
        with smtp_server(script) as smtp_port:
            deployment = _deployment(
                tmp_path, feeds, smtp_port, f"redis://127.0.0.1:{broker.port}/{REDIS_DB}"
            )
            deployment.database_url = _through(POSTGRES_URL, database.port)
            deployment.write_config()
            try:
                for n in range(2):
                    deployment.start("worker", "--concurrency", "2", name=f"worker-{n}")
                deployment.start("run", name="scheduler")
                wait_until(lambda: _all_delivered(deployment, script), 90, "every digest")
                time.sleep(deployment.lease_seconds + 2)
            finally:
                deployment.stop_all()
            assert cut.is_set()
            _assert_exactly_once(deployment, script)
            assert "Traceback" not in deployment.errors()


def _outage(broker: Proxy, database: Proxy) -> None:
    """The broker and the database go away for a few seconds; the broker comes
    back empty, as a Redis that keeps nothing on disk does."""
    broker.cut()
    database.cut()
    _flush_redis()
    time.sleep(3)
    database.restore()
    broker.restore()


def _pg_port() -> int:
    from sqlalchemy import make_url

    return make_url(POSTGRES_URL).port or 5432


def _through(url: str, port: int) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

"""Real `pln worker` processes and `pln run` schedulers on PostgreSQL and a real
broker: a worker killed with SIGKILL in the middle of a send, two schedulers
by mistake, every recipient still gets exactly one digest and every post is
stored once; the dead worker's digest goes out from another within two
minutes (seconds, with the short leases these tests configure)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aggregator.run.demo.server import FeedServer
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.smtp_server import Script, smtp_server
from tests.workers_env import (
    RABBITMQ,
    REDIS,
    REDIS_DB,
    Deployment,
    feed,
    kill_group,
    listening,
    owner_of_client_port,
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
    return all(script.to(e) for e in deployment.emails) and deployment.count(
        "SELECT count(*) FROM posts"
    ) == SOURCES * ITEMS


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
            # on an empty database.
            workers = [
                deployment.start("worker", "--concurrency", "2", name=f"worker-{n}")
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
def test_rabbitmq_as_broker_sends_each_digest_once(tmp_path: Path, feeds: FeedServer) -> None:
    script = Script()
    with smtp_server(script) as port:
        broker = f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}//"
        deployment = _deployment(tmp_path, feeds, port, broker)
        deployment.task_queue = "pln_test_workers_amqp"
        deployment.write_config()
        try:
            deployment.start("worker", "--concurrency", "2", name="worker")
            deployment.start("run", name="scheduler")
            wait_until(lambda: _all_delivered(deployment, script), 60, "every digest and post")
            time.sleep(1)
        finally:
            deployment.stop_all()
        _assert_exactly_once(deployment, script)

"""A worker's Prometheus side: `[queue] metrics_listen` and `redis_url` are
checked, each task's time is counted and served, and a forking worker without
a multiprocess directory is refused in one line."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from celery.signals import task_postrun, task_prerun
from prometheus_client.parser import text_string_to_metric_families

from aggregator.app.config import parse_config
from aggregator.config.types import QueueConfig
from aggregator.domain.errors import ConfigError, PLNError
from aggregator.run.worker import observe
from tests.smtp_server import free_port


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.toml", {})
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('redis_url = "http://127.0.0.1:6379"', "queue.redis_url: not a Redis URL"),
        ('redis_url = "redis://:s3cret@127.0.0.1:6379/1"', "queue.redis_url: secrets are never"),
        ('metrics_listen = "9464"', 'queue.metrics_listen: not HOST:PORT, like "0.0.0.0:9464"'),
        ('metrics_listen = "0.0.0.0:70000"', "queue.metrics_listen: not HOST:PORT"),
    ],
)
def test_queue_extras_are_checked(line: str, message: str) -> None:
    text = f'[queue]\nbroker_url = "redis://127.0.0.1:6379/0"\n{line}\n'
    assert any(message in p for p in problems(text)), problems(text)


def test_the_fleet_limits_live_in_the_broker_unless_redis_url_says_otherwise() -> None:
    redis_broker = QueueConfig(broker_url="redis://127.0.0.1:6379/0")
    assert redis_broker.limits_url() == "redis://127.0.0.1:6379/0"
    rabbit = QueueConfig(broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert rabbit.limits_url() == ""
    own = QueueConfig(broker_url=rabbit.broker_url, redis_url="redis://10.0.0.5:6379/2")
    assert own.limits_url() == "redis://10.0.0.5:6379/2"


def test_a_forking_worker_without_a_multiprocess_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    queue = QueueConfig(metrics_listen=f"127.0.0.1:{free_port()}")
    with pytest.raises(PLNError, match="PROMETHEUS_MULTIPROC_DIR set to an empty directory"):
        observe.start_worker_metrics(queue, concurrency=None)


class _Task:
    name = "pln.send_digest"


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    chosen = free_port()
    stop = observe.start_worker_metrics(QueueConfig(metrics_listen=f"127.0.0.1:{chosen}"), 1)
    yield chosen
    stop()


def count_of(port: int, task: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "pln_task_seconds_count" and s.labels.get("task") == task:
                return s.value
    return 0.0


def test_each_task_is_timed_and_served_on_metrics_listen(port: int) -> None:
    before = count_of(port, "pln.send_digest")
    task_prerun.send(sender=_Task, task_id="t-1", task=_Task())
    task_postrun.send(sender=_Task, task_id="t-1", task=_Task())
    assert count_of(port, "pln.send_digest") == before + 1

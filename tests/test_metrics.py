"""Prometheus counts: a scrape of /metrics after a fetch and a send shows the
counters moved, and the processes of a forking worker add up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.app import metrics
from aggregator.app.ingest import fetch_sources
from aggregator.app.mailer import FileMailer
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import App, build_app
from aggregator.domain.errors import FetchError
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from tests.fakes import T0, FakeConnector, FixedClock, make_config, make_post
from tests.smtp_server import free_port

Sample = tuple[str, tuple[tuple[str, str], ...]]


def scrape(port: int) -> dict[Sample, float]:
    """Every sample of http://127.0.0.1:`port`/metrics, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    recipients = (
        RecipientConfig(email="ana@school.org", timezone="UTC", send_at="11:30", follow=("blog",)),
    )
    config = make_config(f"sqlite:///{tmp_path / 'pln.db'}", ["blog", "broken"], recipients)
    connector = FakeConnector(
        script={
            "blog": [FetchResult((make_post("blog", 1, at=T0.replace(hour=9)),))],
            "broken": [FetchError("broken", "connection refused: is the server down?")],
        }
    )
    with build_app(config, FixedClock(), connectors={"rss": connector}) as built:
        yield built


@pytest.fixture
def port() -> Iterator[int]:
    chosen = free_port()
    stop = metrics.serve(chosen)
    yield chosen
    stop()


def test_a_scrape_after_a_fetch_and_a_send_shows_the_counters_moved(
    app: App, port: int, tmp_path: Path
) -> None:
    before = scrape(port)
    fetch_sources(app)
    send_due_digests(app, FileMailer(tmp_path / "out"))
    after = scrape(port)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("pln_fetches_total", outcome="ok") == 1
    assert moved("pln_fetches_total", outcome="error") == 1
    assert moved("pln_fetch_errors_total", kind="rss") == 1
    assert moved("pln_digests_sent_total") == 1
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_task_latency_is_a_histogram_per_task(port: int) -> None:
    before = scrape(port)
    with metrics.timed_task("fetch_source"):
        pass
    after = scrape(port)
    count = ("pln_task_seconds_count", (("task", "fetch_source"),))
    assert after[count] - before.get(count, 0.0) == 1
    assert ("pln_task_seconds_bucket", (("le", "0.01"), ("task", "fetch_source"))) in after


def test_forked_worker_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    # What `pln worker` with a prefork pool does: children count, the parent answers.
    script = textwrap.dedent(
        """
        import multiprocessing
        from aggregator.app import metrics

        def work():
            metrics.enable()
            metrics.record_sent()
            metrics.record_sent()

        if __name__ == "__main__":
            children = [multiprocessing.get_context("fork").Process(target=work) for _ in range(3)]
            for child in children:
                child.start()
            for child in children:
                child.join()
            print(metrics.exposition()[0].decode())
        """
    )
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(done.stdout)
        for s in family.samples
    }
    assert samples["pln_digests_sent_total"] == 6


def test_a_one_shot_command_counts_nothing_and_does_not_load_prometheus_client() -> None:
    # Start-up time of `pln fetch`, `pln send` and the fetch subprocesses of the tests.
    script = (
        "import sys; import aggregator.app.ingest, aggregator.app.send, aggregator.app.wiring; "
        "print('prometheus_client' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr

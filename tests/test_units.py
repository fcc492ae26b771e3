"""The units of work of many workers, in one process: leases, claims renewed
while their worker lives, takeovers once a lease ends, sources fetched by one
worker at a time, a poisoned source, and a scheduler that enqueues each unit
once (twice started or not) and keeps going while the broker is down."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from aggregator.app.units import DigestUnit, fetch_unit, plan_digests, plan_fetches, send_unit
from aggregator.app.wiring import App, build_app
from aggregator.config.types import EmailConfig, QueueConfig
from aggregator.domain.clock import utc_now
from aggregator.domain.delivery import DeliveryState, OutcomeStatus
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from aggregator.run.worker.dispatch import Dispatcher
from aggregator.run.worker.status import queue_status
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.fakes import T0, FakeConnector, FixedClock, make_config, make_post
from tests.smtp_server import free_port
from tests.workers_env import REDIS, REDIS_DB, listening

ANA = "ana@school.org"
DAY = date(2026, 11, 30)
LEASE_S = 60


class RecordingMailer:
    """Takes each message (after committing its end, as SMTP does), slowly if asked."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.sent: list[EmailMessage] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, commit: Callable[[], None]) -> None:
        time.sleep(self.delay_s)
        commit()
        with self._lock:
            self.sent.append(message)

    def close(self) -> None:
        pass


def make_app(db_url: str, clock: object, connector: FakeConnector | None = None) -> App:
    recipients = (
        RecipientConfig(email=ANA, name="Ana", timezone="UTC", send_at="11:30", follow=("blog",)),
    )
    config = dataclasses.replace(
        make_config(db_url, ["blog", "poison"], recipients),
        email=EmailConfig(from_address="PLN Digest <digest@school.org>"),
        queue=QueueConfig(lease_seconds=LEASE_S, requeue_seconds=300),
    )
    connectors = {"rss": connector or FakeConnector(script={"blog": [FetchResult(())]})}
    return build_app(config, clock, connectors=connectors)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(db_url: str, clock: FixedClock) -> Iterator[App]:
    with make_app(db_url, clock) as app:
        app.repo.save_fetch("blog", FetchResult((make_post("blog", 1),)), T0, T0)
        yield app


def test_a_lease_is_one_holders_until_it_expires_unreleased(app: App, clock: FixedClock) -> None:
    repo, ttl = app.repo, timedelta(seconds=10)
    assert repo.take_lease("fetch:blog", "a", T0, ttl) is not None
    assert repo.take_lease("fetch:blog", "b", T0, ttl) is None
    assert repo.take_lease("fetch:blog", "a", T0, ttl) is None  # not re-entrant
    assert not repo.renew_lease("fetch:blog", "b", T0, ttl)
    assert repo.renew_lease("fetch:blog", "a", T0 + timedelta(seconds=5), ttl)
    assert repo.take_lease("fetch:blog", "b", T0 + timedelta(seconds=14), ttl) is None
    taken = repo.take_lease("fetch:blog", "b", T0 + timedelta(seconds=15), ttl)
    assert taken is not None and taken.abandoned == 1  # a let it lapse
    assert not repo.release_lease("fetch:blog", "a")  # no longer a's to release
    assert repo.release_lease("fetch:blog", "b")
    again = repo.take_lease("fetch:blog", "a", T0 + timedelta(seconds=16), ttl)
    assert again is not None and again.abandoned == 0  # released: nothing was abandoned


def test_a_dead_workers_claim_is_planned_again_once_its_lease_ends(
    app: App, clock: FixedClock
) -> None:
    assert plan_digests(app) == [DigestUnit(ANA, DAY, 0)]
    # A worker claimed it and died: no renewal.
    assert app.repo.claim_delivery(ANA, DAY, T0, timedelta(seconds=LEASE_S)) is not None
    assert plan_digests(app) == []
    assert send_unit(app, RecordingMailer(), ANA, DAY) is None  # held by the (dead) worker
    clock.advance(seconds=LEASE_S)
    assert plan_digests(app) == [DigestUnit(ANA, DAY, 1)]
    mailer = RecordingMailer()
    outcome = send_unit(app, mailer, ANA, DAY)
    assert outcome is not None and outcome.status is OutcomeStatus.SENT
    assert len(mailer.sent) == 1
    assert send_unit(app, mailer, ANA, DAY) is None  # a second copy of the task
    assert plan_digests(app) == [] and len(mailer.sent) == 1


def test_a_unit_for_a_day_that_is_not_due_sends_nothing(app: App, clock: FixedClock) -> None:
    mailer = RecordingMailer()
    assert send_unit(app, mailer, ANA, DAY + timedelta(days=1)) is None
    assert send_unit(app, mailer, "nobody@school.org", DAY) is None
    clock.advance(hours=3)  # 11:30 + 3 h: past the 2-hour misfire grace
    assert send_unit(app, mailer, ANA, DAY) is None
    assert mailer.sent == []
    recorded = app.repo.delivery_of(ANA, DAY)
    assert recorded is not None and recorded.status is DeliveryState.FAILED


@pytest.mark.needs_server(bool(POSTGRES_URL), "PLN_TEST_DATABASE_URL is not set")
def test_two_workers_racing_for_one_digest_send_it_once() -> None:
    _reset_postgres(POSTGRES_URL)
    clock = FixedClock()
    apps = [make_app(POSTGRES_URL, clock) for _ in range(4)]
    mailer, start = RecordingMailer(), threading.Barrier(len(apps))
    outcomes: list[object] = []

    def race(app: App) -> None:
        start.wait()
        outcomes.append(send_unit(app, mailer, ANA, DAY))

    threads = [threading.Thread(target=race, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for app in apps:
        app.close()
    assert len(mailer.sent) == 1
    assert sum(o is not None for o in outcomes) == 1


def test_a_live_workers_slow_send_is_renewed_not_taken_over(db_url: str) -> None:
    with make_app(db_url, utc_now) as app:
        app = dataclasses.replace(
            app, config=dataclasses.replace(app.config, queue=QueueConfig(lease_seconds=1))
        )
        today = utc_now().date()
        recipient = RecipientConfig(
            email=ANA, timezone="UTC", send_at=f"{max(utc_now().hour - 1, 0):02d}:00"
        )
        app = dataclasses.replace(
            app, config=dataclasses.replace(app.config, recipients=(recipient,))
        )
        slow, other = RecordingMailer(delay_s=2.5), RecordingMailer()
        worker = threading.Thread(target=send_unit, args=(app, slow, ANA, today))
        worker.start()
        time.sleep(1.8)  # past the 1 s lease: only renewals keep it
        assert send_unit(app, other, ANA, today) is None
        assert DigestUnit(ANA, today, 1) not in plan_digests(app)
        worker.join()
        assert len(slow.sent) == 1 and other.sent == []


def test_a_source_is_fetched_by_one_worker_at_a_time(app: App, clock: FixedClock) -> None:
    assert app.repo.take_lease("fetch:blog", "other-worker", T0, timedelta(seconds=60))
    assert fetch_unit(app, "blog", "me", None) is None
    assert "blog" not in plan_fetches(app, timedelta(0))  # being fetched: not enqueued
    clock.advance(seconds=61)  # the other worker died
    outcome = fetch_unit(app, "blog", "me", None)
    assert outcome is not None and outcome.error is None
    # A second copy of the task, enqueued before that fetch: dropped.
    assert fetch_unit(app, "blog", "me", T0) is None


def test_a_source_whose_fetch_stops_workers_backs_off(db_url: str, clock: FixedClock) -> None:
    connector = FakeConnector(script={"blog": [FetchResult(())], "poison": [FetchResult(())]})
    with make_app(db_url, clock, connector) as app:
        ttl = timedelta(seconds=LEASE_S)
        for n in range(3):  # three workers took it and died mid-fetch
            assert app.repo.take_lease("fetch:poison", f"worker-{n}", clock(), ttl)
            clock.advance(seconds=LEASE_S)
        outcome = fetch_unit(app, "poison", "me", None)
        assert outcome is not None and "stopped 3 workers in a row" in (outcome.error or "")
        assert [key for key, _ in connector.calls] == []  # not fetched a fourth time
        assert "poison" not in plan_fetches(app, timedelta(0))  # backing off
        assert fetch_unit(app, "blog", "me", None) is not None  # the others go on


def test_two_schedulers_enqueue_each_unit_once(app: App, clock: FixedClock) -> None:
    published: list[tuple[str, tuple[str, ...]]] = []
    queue = app.config.queue
    assert queue is not None
    first, second = (
        Dispatcher(app, queue, published.extend, holder=holder)
        for holder in ("scheduler-1", "scheduler-2")
    )
    first.enqueue_due()
    second.enqueue_due()
    first.enqueue_due()
    names = sorted(name for name, _ in published)
    assert names == ["pln.fetch_source", "pln.fetch_source", "pln.send_digest"]
    clock.advance(seconds=queue.requeue_seconds)  # lost by the broker? enqueued again
    second.enqueue_due()
    assert len(published) == 6


def test_a_scheduler_says_once_that_the_broker_is_down_and_retries(
    app: App, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    published: list[str] = []
    down = True

    def publish(tasks: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        if down:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        published.extend(name for name, _ in tasks)

    queue = app.config.queue
    assert queue is not None
    dispatcher = Dispatcher(app, queue, publish)
    assert dispatcher.enqueue_due() == 0
    assert dispatcher.enqueue_due() == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the broker redis://127.0.0.1:6379/0" in err
    down = False
    assert dispatcher.enqueue_due() == 3  # nothing was marked as enqueued meanwhile
    assert len(published) == 3


def test_pln_check_notes_that_workers_want_postgresql(tmp_path: Path) -> None:
    from tests.test_cli import pln

    config = tmp_path / "pln.toml"
    config.write_text(
        '[queue]\nbroker_url = "redis://127.0.0.1:6379/6"\n\n'
        '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n'
    )
    result = pln("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "[queue] with a SQLite database" in result.stdout and "use PostgreSQL" in result.stdout


def test_pln_worker_without_a_queue_says_so_in_one_line(tmp_path: Path) -> None:
    from tests.test_cli import assert_one_line_error, pln

    config = tmp_path / "pln.toml"
    config.write_text(
        '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n'
    )
    assert_one_line_error(pln("worker", "--config", str(config)), "has no [queue]")


@pytest.mark.needs_server(listening(REDIS), "needs Redis on 127.0.0.1:6379")
def test_status_shows_the_queue_the_workers_and_the_oldest_waiting_task(
    app: App, clock: FixedClock
) -> None:
    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    queue = QueueConfig(broker_url=broker, task_queue="pln_test_status")
    app = dataclasses.replace(app, config=dataclasses.replace(app.config, queue=queue))
    waiting = DigestUnit(ANA, DAY).marker
    assert app.repo.take_lease(waiting, "scheduler", T0 - timedelta(minutes=7), timedelta(hours=1))
    status = queue_status(app)
    assert status is not None and status.problem == "" and status.depth == 0
    assert status.workers == ()  # none running: a second's ping, unanswered
    assert status.waiting == 1 and status.oldest_waiting_since == T0 - timedelta(minutes=7)
    down = dataclasses.replace(queue, broker_url=f"redis://127.0.0.1:{free_port()}/{REDIS_DB}")
    app = dataclasses.replace(app, config=dataclasses.replace(app.config, queue=down))
    status = queue_status(app)
    assert status is not None and status.problem.startswith("cannot reach the broker")

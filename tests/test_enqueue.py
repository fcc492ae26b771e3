"""The scheduler enqueues a district's digests in a few statements: the
"queued" leases of a batch taken together, its tasks published together,
and what the broker did not take given back, so that the next tick enqueues
exactly those (each unit once, whatever the broker did)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from aggregator.app.wiring import App, build_app
from aggregator.config.types import QueueConfig
from aggregator.domain.recipient import RecipientConfig
from aggregator.run.worker.dispatch import Dispatcher, Unpublished
from tests.fakes import T0, FakeConnector, FixedClock, make_config

# More than one batch of the scheduler's (1,000 units).
DIGESTS = 1_500
# Every statement of a tick, the planning's included: a few per batch, not
# one per unit (10 on PostgreSQL; SQLite's BEGINs are statements too).
MOST_STATEMENTS = 25

Tasks = Sequence[tuple[str, tuple[str, ...]]]


def teacher(n: int) -> RecipientConfig:
    return RecipientConfig(
        email=f"teacher{n}@school.org", timezone="UTC", send_at="11:30", follow=("blog",)
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def district(db_url: str, clock: FixedClock) -> Iterator[App]:
    """`DIGESTS` teachers, each one's digest due at T0, and one source."""
    recipients = tuple(teacher(n) for n in range(DIGESTS))
    config = dataclasses.replace(
        make_config(db_url, ["blog"], recipients), queue=QueueConfig(requeue_seconds=300)
    )
    with build_app(config, clock, connectors={"rss": FakeConnector()}) as app:  # type: ignore[dict-item]
        yield app


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(sql)

    event.listen(Engine, "before_cursor_execute", count)
    yield sent
    event.remove(Engine, "before_cursor_execute", count)


def test_a_tick_enqueues_a_districts_digests_in_a_few_statements(
    district: App, statements: list[str]
) -> None:
    published: list[tuple[str, tuple[str, ...]]] = []
    queue = district.config.queue
    assert queue is not None
    dispatcher = Dispatcher(district, queue, published.extend)
    statements.clear()
    assert dispatcher.enqueue_due() == DIGESTS + 1  # and the source's fetch
    assert len(statements) <= MOST_STATEMENTS, statements
    emails = [args[0] for name, args in published if name == "pln.send_digest"]
    assert sorted(emails) == sorted(f"teacher{n}@school.org" for n in range(DIGESTS))
    statements.clear()
    assert dispatcher.enqueue_due() == 0  # all waiting in the queue already
    assert len(statements) <= MOST_STATEMENTS


def test_what_the_broker_did_not_take_is_enqueued_by_the_next_tick_only(
    district: App, clock: FixedClock
) -> None:
    published: list[tuple[str, tuple[str, ...]]] = []
    cut_after = 700  # the broker goes away in the middle of the first batch

    def publish(tasks: Tasks) -> None:
        room = max(0, cut_after - len(published))
        published.extend(tasks[:room])
        if room < len(tasks):
            raise Unpublished(room) from ConnectionResetError("[Errno 104] Connection reset")

    queue = district.config.queue
    assert queue is not None
    first = Dispatcher(district, queue, publish, holder="scheduler-1")
    second = Dispatcher(district, queue, publish, holder="scheduler-2")
    assert first.enqueue_due() == cut_after
    cut_after = DIGESTS * 2
    clock.advance(seconds=queue.tick_seconds)
    assert second.enqueue_due() == DIGESTS + 1 - 700
    assert first.enqueue_due() == 0
    markers = [args[-1] for _, args in published]
    assert len(markers) == len(set(markers)) == DIGESTS + 1  # each unit once


def test_many_leases_are_taken_when_free_or_expired_and_given_back_by_their_holder(
    district: App,
) -> None:
    repo, ttl = district.repo, timedelta(seconds=10)
    assert repo.take_lease("queued:held", "other", T0, ttl) is not None
    assert repo.take_lease("queued:lapsed", "other", T0 - ttl, ttl) is not None
    keys = ["queued:held", "queued:lapsed", "queued:new", "queued:new"]
    assert repo.take_leases(keys, "me", T0, ttl) == {"queued:lapsed", "queued:new"}
    assert repo.take_leases(keys, "me", T0, ttl) == set()
    assert repo.release_leases(keys, "me") == 2  # not "other"'s
    assert repo.live_lease_keys("queued:", T0) == {"queued:held"}
    taken = repo.take_lease("queued:lapsed", "other", T0, ttl)
    assert taken is not None and taken.abandoned == 0  # released, not abandoned

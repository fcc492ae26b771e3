"""The units of work of many workers, and working out which are due.

With `[queue]` set, `pln run` only plans (`plan_fetches`, `plan_digests`)
and enqueues; each `pln worker` process runs units: "fetch source K"
(`fetch_unit`) and "build and send recipient R's digest for local day D"
(`send_unit`). Each unit calls the single-process path's own functions
(`ingest.fetch_one`, the claim and send of `send`), so exactly once holds
the same way: the database decides. A unit is idempotent: run twice, or
after its worker died, it does nothing more than once.

Leases (`aggregator.domain.lease`) keep it fast and fair: a source is
fetched by one worker at a time ("fetch:K"), and a unit waiting in the
queue is enqueued once per `[queue] requeue_seconds` ("queued:...").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aggregator.app.build import Batch
from aggregator.app.heartbeat import Heartbeat
from aggregator.app.ingest import fetch_one, paused_keys, record_crash, stale_sources
from aggregator.app.mailer import Mailer
from aggregator.app.preferences import scheduled_recipients
from aggregator.app.send import LEASE, _attempt, _Job, _skip_missed, _too_soon
from aggregator.app.wiring import App
from aggregator.domain.delivery import Claim, DeliveryOutcome, DeliveryState
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchOutcome
from digests.due import due_digests, is_too_soon, sending_soon
from digests.memo import DigestMemo

log = logging.getLogger(__name__)

QUEUED = "queued:"
# A source whose fetch stopped this many workers in a row (a crash, a time
# limit) is recorded as failing and backs off instead of stopping more.
POISON_AFTER = 3


@dataclass(frozen=True, slots=True)
class DigestUnit:
    """A digest to enqueue; `attempts` is its delivery's so far (0: none yet)."""

    email: str
    local_day: date
    attempts: int = 0

    @property
    def marker(self) -> str:
        """Its "waiting in the queue" lease: one per attempt, so a retry or a
        takeover is enqueued at once, and a waiting one only once."""
        return f"{QUEUED}digest:{self.email}:{self.local_day.isoformat()}:{self.attempts}"


def fetch_marker(key: str) -> str:
    """The "waiting in the queue" lease of a fetch of `key`."""
    return f"{QUEUED}fetch:{key}"


def lease_of(app: App) -> timedelta:
    """How long a worker's claim lasts without renewal (`[queue] lease_seconds`);
    without workers, the single process's long lease (it renews nothing)."""
    queue = app.config.queue
    return timedelta(seconds=queue.lease_seconds) if queue else LEASE


# -- planning (the scheduler) ------------------------------------------------


def plan_fetches(app: App, refresh_within: timedelta) -> list[str]:
    """Sources to fetch now: those due, and the stale sources of digests going
    within `refresh_within`; none that a worker is fetching or that waits in
    the queue already."""
    now, repo = app.clock(), app.repo
    paused = paused_keys(app)
    keys = [key for key in repo.due_source_keys(now) if key not in paused]
    if refresh_within:
        soon = sending_soon(
            now, app.config.recipients, refresh_within, app.config.calendar.holidays
        )
        follows = sorted({key for r in soon for key in r.follow})
        keys += [s.key for s in stale_sources(app, follows, refresh_within) if s.key not in keys]
    busy = repo.live_lease_keys("fetch:", now)
    waiting = repo.live_lease_keys(f"{QUEUED}fetch:", now)
    return [k for k in keys if f"fetch:{k}" not in busy and fetch_marker(k) not in waiting]


def plan_digests(app: App) -> list[DigestUnit]:
    """Digests to enqueue now: due ones and retries whose time has come (a claim
    whose worker died is one: its lease ended). Missed ones are recorded, as
    by `pln send`, and deliveries of addresses no longer subscribed failed."""
    now, repo = app.clock(), app.repo
    repo.lift_unsubscribes(
        dict(app.config.email.resubscribe), [r.email for r in app.config.recipients]
    )
    gone = repo.unsubscribed()
    subscribed = [r for r in app.config.recipients if r.email.lower() not in gone]
    # Teachers' own choices (send time, days, pause...) apply from the next digest.
    recipients = scheduled_recipients(app, subscribed, now)
    by_email = {r.email: r for r in recipients}
    recorded = repo.recorded_days(list(by_email), (now - timedelta(days=2)).date())
    due, missed = due_digests(
        now,
        recipients,
        recorded,
        app.config.schedule.misfire_grace,
        holidays=app.config.calendar.holidays,
    )
    for digest in missed:
        _skip_missed(repo, digest, now, False)
    units: list[DigestUnit] = []
    for waiting in repo.deliveries_to_retry(now):
        if waiting.email in by_email:
            units.append(DigestUnit(waiting.email, waiting.local_day, waiting.attempts))
        else:
            repo.mark_failed(waiting, "no longer a subscribed recipient")
    units.extend(DigestUnit(d.recipient.email, d.local_day) for d in due)
    return units


# -- the units (a worker) -----------------------------------------------------


def fetch_unit(app: App, key: str, holder: str, since: datetime | None) -> FetchOutcome | None:
    """Fetch source `key` unless another worker is fetching it (None: dropped)
    or it was fetched after `since`, when the unit was enqueued (None)."""
    repo, ttl = app.repo, lease_of(app)
    lease = repo.take_lease(f"fetch:{key}", holder, app.clock(), ttl)
    if lease is None:
        log.info("%s: being fetched by another worker; dropped", key)
        return None
    try:
        if lease.abandoned >= POISON_AFTER:
            return record_crash(
                app,
                key,
                f"its fetch stopped {lease.abandoned} workers in a row (a crash or a time "
                "limit); skipped until its next attempt",
            )
        status = repo.source_statuses([key], with_post_counts=False)
        attempted = status[0].last_attempt_at if status else None
        if since is not None and attempted is not None and attempted >= since:
            return None  # fetched since it was enqueued: this copy is a duplicate
        renew = lambda: repo.renew_lease(f"fetch:{key}", holder, app.clock(), ttl)  # noqa: E731
        with Heartbeat(renew, ttl.total_seconds() / 3, f"fetch {key}"):
            return fetch_one(app, key)
    finally:
        repo.release_lease(f"fetch:{key}", holder)


def send_unit(
    app: App, mailer: Mailer, email: str, local_day: date, memo: DigestMemo | None = None
) -> DeliveryOutcome | None:
    """Build and send `email`'s digest for `local_day` if it is still due or
    waiting for a retry; None when there is nothing to do (sent, being sent
    by another worker, no longer a recipient, not due)."""
    configured = app.config.recipient(email)
    if configured is None or configured.email.lower() in app.repo.unsubscribed():
        return None
    scheduled = scheduled_recipients(app, [configured], app.clock())
    if not scheduled:
        return None  # the teacher paused their digest
    recipient = scheduled[0]
    claim = _claim(app, recipient, local_day)
    if claim is None:
        return None
    now, repo, ttl = app.clock(), app.repo, lease_of(app)
    job = _Job(recipient, local_day, claim)
    last_sent = repo.last_sent_at({recipient.email}).get(recipient.email)
    if is_too_soon(now, last_sent) and last_sent is not None:
        return _too_soon(repo, job, last_sent, now, False)
    renew = lambda: repo.renew_delivery(claim, app.clock(), ttl)  # noqa: E731
    with Heartbeat(renew, ttl.total_seconds() / 3, f"digest of {email} for {local_day}"):
        # A batch of one: its posts are read for this digest alone, and what is
        # worked out about them goes to the memo this worker process keeps.
        batch = Batch(now, now, (), {}, memo or DigestMemo())
        outcome, _ = _attempt(app, mailer, job, now, None, batch)
    return outcome


def _claim(app: App, recipient: RecipientConfig, local_day: date) -> Claim | None:
    """Take `recipient`'s digest of `local_day`: claimed anew when it is due now
    and has no delivery, taken again when its retry time (or the lease of a
    worker that died) has come. Recorded as missed when too late."""
    now, repo, ttl = app.clock(), app.repo, lease_of(app)
    recorded = repo.delivery_of(recipient.email, local_day)
    if recorded is not None:
        waiting = (DeliveryState.CLAIMED, DeliveryState.RETRY)
        if recorded.status not in waiting or recorded.next_attempt_at is None:
            return None
        if recorded.next_attempt_at > now:
            return None  # being sent by a live worker, or its retry is later
        return repo.reclaim_delivery(recorded.claim(), now, ttl)
    due, missed = due_digests(
        now,
        [recipient],
        {},
        app.config.schedule.misfire_grace,
        holidays=app.config.calendar.holidays,
    )
    if any(d.local_day == local_day for d in missed):
        _skip_missed(repo, missed[0], now, False)
        return None
    if not any(d.local_day == local_day for d in due):
        return None  # not its day (any more): a stale copy of the unit
    return repo.claim_delivery(recipient.email, local_day, now, ttl)


def release_marker(app: App, marker: str) -> None:
    """The unit behind `marker` has left the queue: no longer waiting."""
    app.repo.release_lease(marker)

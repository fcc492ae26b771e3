"""Sending the digests that are due: the delivery orchestrator (`pln send`, `pln run`).

What is due comes from `digests.due` over the configured, subscribed
recipients and the days already recorded in the database, plus deliveries
waiting for a retry. Each digest is claimed in the database before any SMTP
and marked sent only once the server accepted it; see
`aggregator.domain.delivery` for the states and why a message whose fate
is unknown is never sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from aggregator.app import metrics
from aggregator.app.accepted import record_sent
from aggregator.app.build import Batch, build_digest, render_digest, start_batch
from aggregator.app.mail_links import digest_links, list_id_for
from aggregator.app.mailer import Mailer, build_message
from aggregator.app.preferences import scheduled_recipients
from aggregator.app.wiring import App
from aggregator.config.types import EmailConfig
from aggregator.domain.address import parse_mailbox
from aggregator.domain.archive import DigestCopy
from aggregator.domain.delivery import Claim, DeliveryOutcome, OutcomeStatus
from aggregator.domain.errors import (
    PermanentFailure,
    PLNError,
    ServerUnavailable,
    StorageError,
    TemporaryFailure,
    UnknownOutcome,
)
from aggregator.domain.recipient import RecipientConfig
from aggregator.store.repository import Repository
from digests.compose import Digest
from digests.due import MIN_GAP, DueDigest, due_digests, is_too_soon

__all__ = ["resend_unknown", "retry_delay", "send_due_digests"]

log = logging.getLogger(__name__)

# How long a claim is held before a crashed sender's digest may be sent by
# another run: far longer than one SMTP transaction (SMTP_TIMEOUT_S).
LEASE = timedelta(minutes=15)
FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=1)
# Attempts before a day's digest is given up: 5, 10, 20, 40 min apart.
MAX_ATTEMPTS = 5
# Outcomes after which the teacher may have the digest: the next is MIN_GAP later.
_MAY_HAVE_ARRIVED = (OutcomeStatus.SENT, OutcomeStatus.UNKNOWN, OutcomeStatus.WOULD_SEND)


@dataclass(frozen=True, slots=True)
class _Job:
    recipient: RecipientConfig
    local_day: date
    claim: Claim | None = None  # held already: a retry


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 min, doubling, at most 1 h."""
    return min(FIRST_RETRY * (1 << max(attempts - 1, 0)), MAX_RETRY)


def send_due_digests(
    app: App, mailer: Mailer, *, dry_run: bool = False, only: str | None = None
) -> list[DeliveryOutcome]:
    """Build and send every digest due at `app.clock()` (or only `only`'s).

    `dry_run` builds what would be sent and records nothing. One
    recipient's failure is recorded on their delivery and the others go on;
    once the server cannot be reached, the rest are recorded for a retry
    without trying it again. Raises PLNError when `only` names no
    recipient, StorageError when the database fails.
    """
    if only is not None and app.config.recipient(only) is None:
        raise PLNError(f"no recipient {only} in {app.config.path}; check [[recipients]]")
    now = app.clock()
    repo = app.repo
    if not dry_run:
        repo.lift_unsubscribes(
            dict(app.config.email.resubscribe), [r.email for r in app.config.recipients]
        )
    gone = repo.unsubscribed()
    subscribed = [r for r in app.config.recipients if r.email.lower() not in gone]
    # Teachers' own choices (send time, days, pause...) apply from the next digest.
    recipients = scheduled_recipients(app, subscribed, now)
    jobs, outcomes = _jobs(app, recipients, now, dry_run)
    if only is not None:
        jobs = [job for job in jobs if job.recipient.email.lower() == only.lower()]
        outcomes = [o for o in outcomes if o.email.lower() == only.lower()]
    if not jobs:
        return outcomes
    unavailable: ServerUnavailable | None = None
    # The recipients of a batch follow many of the same sources: their posts
    # are read once, and what is costly about each worked out once.
    with start_batch(app, [job.recipient for job in jobs], now) as batch:
        last_sent = repo.last_sent_at({job.recipient.email for job in jobs})
        for job in jobs:
            email = job.recipient.email
            if is_too_soon(now, last_sent.get(email)):
                outcomes.append(_too_soon(repo, job, last_sent[email], now, dry_run))
                continue
            if dry_run:
                outcome: DeliveryOutcome | None = _preview(app, job, now, batch)
            else:
                outcome, unavailable = _attempt(app, mailer, job, now, unavailable, batch)
            if outcome is not None:
                outcomes.append(outcome)
                if outcome.status in _MAY_HAVE_ARRIVED:
                    last_sent[email] = now
    return outcomes


def _attempt(
    app: App,
    mailer: Mailer,
    job: _Job,
    now: datetime,
    unavailable: ServerUnavailable | None,
    batch: Batch | None,
) -> tuple[DeliveryOutcome | None, ServerUnavailable | None]:
    """Claim and send one digest, unless the server is known to be unavailable
    (then the claim is recorded for a retry); None when another process has
    it. Returns the outcome and whether the server is unavailable now."""
    repo = app.repo
    try:
        claim = job.claim or repo.claim_delivery(job.recipient.email, job.local_day, now, LEASE)
    except StorageError as exc:  # e.g. an address the database cannot store
        return _unclaimed(job, exc), unavailable
    if claim is None:
        return None, unavailable  # another process claimed it in the meantime
    if unavailable is None:
        try:
            return _deliver(app, mailer, job.recipient, claim, now, batch), None
        except ServerUnavailable as exc:
            unavailable = exc  # the rest of the batch is not tried: it would fail alike
    error = f"server unavailable: {unavailable}"
    return _failed_attempt(repo, claim, error, now), unavailable


def _too_soon(
    repo: Repository, job: _Job, last_sent_at: datetime, now: datetime, dry_run: bool
) -> DeliveryOutcome:
    """Record a digest that would follow the last one by less than `MIN_GAP`
    (its time zone moved) as failed for its day, reported like a missed one."""
    hours = MIN_GAP.total_seconds() / 3600
    reason = (
        f"skipped: the last digest went out at {last_sent_at:%Y-%m-%d %H:%M} UTC, and "
        f"digests are at least {hours:g} hours apart"
    )
    email = job.recipient.email
    if not dry_run:
        claim = job.claim or repo.claim_delivery(email, job.local_day, now, LEASE)
        if claim is not None:
            repo.mark_failed(claim, reason)
            log.warning("%s: digest for %s %s", email, job.local_day, reason)
    return DeliveryOutcome(email, job.local_day, OutcomeStatus.MISSED, error=reason)


def _jobs(
    app: App,
    recipients: list[RecipientConfig],
    now: datetime,
    dry_run: bool,
) -> tuple[list[_Job], list[DeliveryOutcome]]:
    """Retries whose time has come, then digests due now (on send days, outside
    holidays, within the misfire grace); and the missed ones."""
    repo = app.repo
    by_email = {r.email: r for r in recipients}
    recorded = repo.recorded_days(list(by_email), (now - timedelta(days=2)).date())
    due, missed = due_digests(
        now=now,
        recipients=recipients,
        recorded=recorded,
        grace=app.config.schedule.misfire_grace,
        holidays=app.config.calendar.holidays,
    )
    outcomes = [_skip_missed(repo, d, now, dry_run) for d in missed]
    jobs: list[_Job] = []
    for waiting in repo.deliveries_to_retry(now):
        recipient = by_email.get(waiting.email)
        if dry_run:
            jobs.extend([_Job(recipient, waiting.local_day)] if recipient else [])
        elif recipient is None:
            repo.mark_failed(waiting, "no longer a subscribed recipient")
        else:
            claim = repo.reclaim_delivery(waiting, now, LEASE)
            jobs.extend([_Job(recipient, waiting.local_day, claim)] if claim else [])
    jobs.extend(_Job(d.recipient, d.local_day) for d in due)
    return jobs, outcomes


def _skip_missed(repo: Repository, due: DueDigest, now: datetime, dry_run: bool) -> DeliveryOutcome:
    """Record a digest too late to send as failed for its day, so it is
    reported once and never sent late (the misfire policy)."""
    reason = f"missed: due at {due.send_at:%H:%M} UTC, too long ago (the service was down)"
    if not dry_run:
        claim = repo.claim_delivery(due.recipient.email, due.local_day, now, LEASE)
        if claim is not None:
            repo.mark_failed(claim, reason)
            log.warning("%s: digest for %s %s", due.recipient.email, due.local_day, reason)
    return DeliveryOutcome(due.recipient.email, due.local_day, OutcomeStatus.MISSED, error=reason)


def _deliver(
    app: App,
    mailer: Mailer,
    recipient: RecipientConfig,
    claim: Claim,
    built_at: datetime,
    batch: Batch | None,
) -> DeliveryOutcome:
    """Build, render and send one claimed digest; record how it went.

    Whatever goes wrong is this digest's failure, recorded on its delivery:
    the rest of the batch goes on. Raises `ServerUnavailable` without
    recording it (the caller records it for this digest and the rest of the
    batch), and StorageError when the database cannot record the outcome.
    The digest is built as at `built_at`, the batch's time, as every
    digest of its `batch`.
    """
    now, repo = app.clock(), app.repo
    try:
        digest = build_digest(app, recipient, built_at, batch)
        if digest.is_empty and app.config.digest.skip_empty:
            repo.mark_skipped(claim, "nothing new: empty digests are not sent")
            return DeliveryOutcome(
                claim.email, claim.local_day, OutcomeStatus.SKIPPED, digest.subject, 0
            )
        message, copy = _message(app, recipient, digest, now)
    except PermanentFailure as exc:  # no message can be written, e.g. for that address
        return _refused(repo, claim, exc)
    except PLNError as exc:
        return _failed_attempt(repo, claim, str(exc), now)
    except Exception as exc:  # a bug met by this digest alone: the batch goes on
        log.exception("%s: digest for %s could not be built", claim.email, claim.local_day)
        return _failed_attempt(repo, claim, _unexpected(exc), now)
    count = len(digest.entries) + len(digest.also)
    outcome = DeliveryOutcome(
        claim.email,
        claim.local_day,
        OutcomeStatus.SENT,
        digest.subject,
        count,
        str(message["Message-ID"]),
    )
    return _send(app, mailer, claim, message, outcome, digest, copy)


def _send(
    app: App,
    mailer: Mailer,
    claim: Claim,
    message: EmailMessage,
    outcome: DeliveryOutcome,
    digest: Digest,
    copy: DigestCopy,
) -> DeliveryOutcome:
    """Hand the built message to the mailer; record how far it got, the end
    of the digest's window (where the next one starts), the posts it shows
    (kept past [storage] keep_days) and its copy for the archive."""
    now, repo = app.clock(), app.repo
    committed: list[bool] = []
    shown, built_at = digest.shown_posts, digest.window_end

    def commit() -> None:
        repo.mark_unknown(claim, outcome.message_id, built_at, outcome.post_count, now, shown, copy)
        committed.append(True)

    try:
        mailer.send(message, commit)
    except ServerUnavailable:
        raise
    except TemporaryFailure as exc:
        return _failed_attempt(repo, claim, str(exc), now)
    except PermanentFailure as exc:
        return _refused(repo, claim, exc, outcome)
    except UnknownOutcome as exc:
        return _unknown(repo, claim, outcome, str(exc))
    except StorageError as exc:
        # Raised by `commit`: the message was abandoned before its end, and the
        # claim is another process's now, or the database is down. Either way
        # nothing can be recorded here; its lease makes it due again.
        log.error("%s: digest for %s not sent: %s", claim.email, claim.local_day, exc)
        return replace(outcome, status=OutcomeStatus.RETRY, error=f"not sent: {exc}")
    except Exception as exc:  # a bug in a mailer: this digest's failure alone
        log.exception("%s: digest for %s: sending failed", claim.email, claim.local_day)
        if committed:  # the end of the message may have gone out
            return _unknown(repo, claim, outcome, _unexpected(exc))
        return _failed_attempt(repo, claim, _unexpected(exc), now)
    metrics.record_sent()
    failure = record_sent(repo, claim, app.clock)
    if failure is not None:
        error = f"accepted by the mail server, but not recorded as sent: {failure}"
        log.error("%s: digest for %s %s", claim.email, claim.local_day, error)
        return replace(outcome, status=OutcomeStatus.UNKNOWN, error=error)
    log.info(
        "%s: digest for %s sent (%d posts, %s)",
        claim.email,
        claim.local_day,
        outcome.post_count,
        outcome.message_id,
    )
    return outcome


def _refused(
    repo: Repository, claim: Claim, exc: PermanentFailure, outcome: DeliveryOutcome | None = None
) -> DeliveryOutcome:
    """Record a digest that can never go as it is (5xx, an address no header
    can carry) as failed for its day."""
    repo.mark_failed(claim, str(exc))
    log.error("%s: digest for %s refused: %s", claim.email, claim.local_day, exc)
    base = outcome or DeliveryOutcome(claim.email, claim.local_day, OutcomeStatus.FAILED)
    return replace(base, status=OutcomeStatus.FAILED, error=str(exc))


def _unknown(
    repo: Repository, claim: Claim, outcome: DeliveryOutcome, error: str
) -> DeliveryOutcome:
    """Keep a digest whose end may have reached the server `unknown`: never resent."""
    repo.note_unknown(claim, error)
    log.error(
        "%s: digest for %s may have been sent (%s); not sending it again: "
        "check the mail log for %s",
        claim.email,
        claim.local_day,
        error,
        outcome.message_id,
    )
    return replace(outcome, status=OutcomeStatus.UNKNOWN, error=error)


def _unclaimed(job: _Job, exc: StorageError) -> DeliveryOutcome:
    """A digest whose claim could not be recorded: nothing was sent."""
    log.error("%s: digest for %s not claimed: %s", job.recipient.email, job.local_day, exc)
    return DeliveryOutcome(
        job.recipient.email, job.local_day, OutcomeStatus.FAILED, error=f"not sent: {exc}"
    )


def _unexpected(exc: Exception) -> str:
    """One line for an error no one planned for; the log has its traceback."""
    lines = str(exc).strip().splitlines()
    return f"unexpected {type(exc).__name__}: {lines[0] if lines else ''} (see the log)"


def _failed_attempt(repo: Repository, claim: Claim, error: str, now: datetime) -> DeliveryOutcome:
    """Record a temporary failure: a retry after back-off, or failed after the last."""
    if claim.attempts >= MAX_ATTEMPTS:
        error = f"gave up after {claim.attempts} attempts: {error}"
        repo.mark_failed(claim, error)
        log.error("%s: digest for %s: %s", claim.email, claim.local_day, error)
        return DeliveryOutcome(claim.email, claim.local_day, OutcomeStatus.FAILED, error=error)
    retry_at = now + retry_delay(claim.attempts)
    repo.mark_retry(claim, error, retry_at)
    log.warning(
        "%s: digest for %s not sent (%s); retry at %s",
        claim.email,
        claim.local_day,
        error,
        retry_at.isoformat(timespec="minutes"),
    )
    return DeliveryOutcome(
        claim.email, claim.local_day, OutcomeStatus.RETRY, error=error, retry_at=retry_at
    )


def _preview(app: App, job: _Job, now: datetime, batch: Batch | None) -> DeliveryOutcome:
    """--dry-run: what would be sent, built but not recorded."""
    digest = build_digest(app, job.recipient, now, batch)
    count = len(digest.entries) + len(digest.also)
    return DeliveryOutcome(
        job.recipient.email, job.local_day, OutcomeStatus.WOULD_SEND, digest.subject, count
    )


def _message(
    app: App, recipient: RecipientConfig, digest: Digest, now: datetime
) -> tuple[EmailMessage, DigestCopy]:
    """The email of one digest, with its unsubscribe link in the headers and
    the footer, and its copy for the archive."""
    email = app.config.email
    links = digest_links(app.config, digest, app.clock)
    url = links.unsubscribe or None
    copy = DigestCopy(
        digest.subject,
        html=render_digest(digest, "html", links=links),
        text=render_digest(digest, "text", links=links),
    )
    message = build_message(
        sender=email.from_address,
        recipient=recipient,
        subject=digest.subject,
        text=copy.text,
        html=copy.html,
        now=now.astimezone(ZoneInfo(recipient.timezone)),
        unsubscribe_url=url,
        unsubscribe_mailto=_unsubscribe_mailto(email),
        list_id=list_id_for(email.from_address),
    )
    return message, copy


def _unsubscribe_mailto(email: EmailConfig) -> str:
    """Where unsubscribe requests by mail go: the admin, else the sender (an
    admin address no header can carry, refused by pln check, is passed over)."""
    for mailbox in (email.admin, email.from_address):
        try:
            return parse_mailbox(mailbox)[1]
        except ValueError:  # empty, or refused by pln check
            continue
    return ""


def resend_unknown(app: App, mailer: Mailer, email: str, local_day: date) -> DeliveryOutcome:
    """`pln resend`: send again a digest whose fate was unknown, once the admin
    has checked the mail server's log and found it was never accepted.

    Raises PLNError when that recipient's digest for that day is not unknown.
    """
    recipient = app.config.recipient(email)
    if recipient is None:
        raise PLNError(f"no recipient {email} in {app.config.path}; check [[recipients]]")
    released = app.repo.release_unknown(recipient.email, local_day, app.clock())
    if released is None:
        raise PLNError(
            f"{email} has no digest of unknown fate for {local_day}: "
            "`pln status` lists the deliveries"
        )
    log.warning("%s: digest for %s released for a new attempt (was %s)", email, local_day, released)
    sent = [
        o for o in send_due_digests(app, mailer, only=recipient.email) if o.local_day == local_day
    ]
    return (
        sent[0]
        if sent
        else DeliveryOutcome(
            email, local_day, OutcomeStatus.RETRY, error="claimed by another process"
        )
    )

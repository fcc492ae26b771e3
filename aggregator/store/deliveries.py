"""The deliveries part of the repository: claims and their outcomes.

A digest goes out at most once per recipient and local day: a `digests` row
and its `deliveries` row are inserted, unique, in their own transaction
before any SMTP (`claim_delivery`), and every later step is a guarded change
of that row's `DeliveryState` (`aggregator.domain.delivery` draws the states
and why an `unknown` delivery is never sent again).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Update, func, select, update
from sqlalchemy.orm import Session

from aggregator.domain.archive import DigestCopy
from aggregator.domain.delivery import Claim, DeliveryState, RecordedDelivery
from aggregator.domain.errors import StorageError
from aggregator.store.archive import record_copy
from aggregator.store.conflicts import insert_new
from aggregator.store.engine import Transactions
from aggregator.store.retention import record_shown_posts
from aggregator.store.tables import DeliveryRow, DigestRow


class DeliveryRecords(Transactions):
    """Claims to send digests and what became of them; one part of `Repository`."""

    def claim_delivery(
        self, email: str, local_day: date, now: datetime, lease: timedelta
    ) -> Claim | None:
        """Record, before any SMTP, that `email`'s digest for `local_day` is being sent.

        Returns None when that day already has a delivery (sent, failing or
        being sent by another process): the unique rows make this safe
        across processes. Raises `StorageError`.
        """
        day = local_day.isoformat()

        def work(session: Session) -> Claim | None:
            digest_id = insert_new(
                session,
                DigestRow,
                ["recipient_email", "local_day"],
                {
                    "recipient_email": email,
                    "local_day": day,
                    "built_at": now,
                    "post_count": 0,
                },
            )
            if digest_id is None:
                # The day's digest row exists: with its delivery (then the insert
                # below finds it), or without one, e.g. its delivery deleted by hand.
                digest_id = session.scalar(
                    select(DigestRow.id).where(
                        DigestRow.recipient_email == email, DigestRow.local_day == day
                    )
                )
            delivery_id = insert_new(
                session,
                DeliveryRow,
                ["digest_id"],
                {
                    "digest_id": digest_id,
                    "claimed_at": now,
                    "attempts": 1,
                    "status": DeliveryState.CLAIMED,
                    "next_attempt_at": now + lease,
                },
            )
            if delivery_id is None:
                return None
            return Claim(delivery_id, email, local_day, 1)

        return self._run(f"claiming the digest of {email} for {day}", work, write=True)

    def deliveries_to_retry(self, now: datetime) -> list[Claim]:
        """Deliveries to try again at `now`: failed temporarily, or claimed by a
        process that stopped before sending (its lease ended); oldest first.

        The claims returned are not yet held: `reclaim_delivery` each one.
        """
        stmt = (
            select(DeliveryRow, DigestRow.recipient_email, DigestRow.local_day)
            .join(DigestRow, DigestRow.id == DeliveryRow.digest_id)
            .where(
                DeliveryRow.status.in_((DeliveryState.CLAIMED, DeliveryState.RETRY)),
                DeliveryRow.next_attempt_at <= now,
            )
            .order_by(DeliveryRow.next_attempt_at, DigestRow.recipient_email)
        )

        def work(session: Session) -> list[Claim]:
            return [
                Claim(row.id, email, date.fromisoformat(day), row.attempts)
                for row, email, day in session.execute(stmt)
            ]

        return self._run("listing deliveries to retry", work)

    def reclaim_delivery(self, claim: Claim, now: datetime, lease: timedelta) -> Claim | None:
        """Take a claim from `deliveries_to_retry` for one more attempt; None if another
        process took it first. Raises `StorageError`."""
        stmt = (
            update(DeliveryRow)
            .where(
                DeliveryRow.id == claim.delivery_id,
                DeliveryRow.status.in_((DeliveryState.CLAIMED, DeliveryState.RETRY)),
                DeliveryRow.next_attempt_at <= now,
            )
            .values(
                status=DeliveryState.CLAIMED,
                claimed_at=now,
                attempts=DeliveryRow.attempts + 1,
                next_attempt_at=now + lease,
            )
        )
        taken = self._updated_one(f"reclaiming the digest of {claim.email}", stmt)
        if not taken:
            return None
        return replace(claim, attempts=claim.attempts + 1)

    def renew_delivery(self, claim: Claim, now: datetime, lease: timedelta) -> bool:
        """Extend the lease of a claim still being sent to `now + lease`; False
        when it is no longer this claim's (its lease ended and another took it,
        or its outcome is recorded). Raises `StorageError`."""
        stmt = update(DeliveryRow).where(*_still_claimed(claim)).values(next_attempt_at=now + lease)
        return self._updated_one(f"renewing the claim on the digest of {claim.email}", stmt)

    def delivery_of(self, email: str, local_day: date) -> RecordedDelivery | None:
        """The delivery recorded for `email`'s digest of `local_day`, if any."""
        stmt = (
            select(DeliveryRow, DigestRow.recipient_email, DigestRow.local_day)
            .join(DigestRow, DigestRow.id == DeliveryRow.digest_id)
            .where(
                DigestRow.recipient_email == email,
                DigestRow.local_day == local_day.isoformat(),
            )
        )

        def work(session: Session) -> RecordedDelivery | None:
            found = session.execute(stmt).first()
            return None if found is None else _state(*found)

        return self._run(f"reading the delivery to {email}", work)

    def mark_unknown(
        self,
        claim: Claim,
        message_id: str,
        built_at: datetime,
        post_count: int,
        now: datetime,
        shown: Sequence[tuple[str, str]] = (),
        copy: DigestCopy | None = None,
    ) -> None:
        """Record, just before the end of the message is sent, that from now on
        the server may have accepted it (so it is never sent again by itself),
        and the posts it shows, `shown` as (source key, external id) in order:
        pruning keeps them for the archive; and `copy`, the message as sent,
        for "view in browser" (one transaction: a digest that may have
        arrived always has its copy).

        Raises `StorageError` when the claim was lost (its lease ended and
        another process took it): the caller must then not finish sending.
        """
        delivery = (
            update(DeliveryRow)
            .where(*_still_claimed(claim))
            .values(
                status=DeliveryState.UNKNOWN,
                message_id=message_id,
                next_attempt_at=None,
                last_error=f"sending since {now.isoformat(timespec='seconds')}",
            )
        )
        digest = (
            update(DigestRow)
            .where(
                DigestRow.id
                == select(DeliveryRow.digest_id)
                .where(DeliveryRow.id == claim.delivery_id)
                .scalar_subquery()
            )
            .values(built_at=built_at, post_count=post_count)
        )
        digest_id = select(DeliveryRow.digest_id).where(DeliveryRow.id == claim.delivery_id)

        def work(session: Session) -> None:
            if _rowcount(session, delivery) != 1:
                raise StorageError(
                    f"the digest of {claim.email} for {claim.local_day} "
                    "was claimed by another process; not sending it"
                )
            session.execute(digest)
            if shown or copy is not None:
                stored_id = session.scalar(digest_id) or 0
                if shown:
                    record_shown_posts(session, stored_id, shown)
                if copy is not None:
                    record_copy(session, stored_id, copy)

        self._run(f"recording the send of {claim.email}", work, write=True)

    def release_unknown(self, email: str, local_day: date, now: datetime) -> str | None:
        """Make an `unknown` delivery due for a retry now: the admin found in
        the mail log that the server never accepted it. Returns its Message-ID,
        or None when that day has no delivery in the `unknown` state.
        """
        find = (
            select(DeliveryRow)
            .join(DigestRow, DigestRow.id == DeliveryRow.digest_id)
            .where(
                DigestRow.recipient_email == email,
                DigestRow.local_day == local_day.isoformat(),
                DeliveryRow.status == DeliveryState.UNKNOWN,
            )
        )

        def work(session: Session) -> str | None:
            row = session.scalars(find).first()
            if row is None:
                return None
            message_id = row.message_id
            row.status, row.next_attempt_at = DeliveryState.RETRY, now
            row.last_error = f"released for a new attempt (was {message_id})"
            return message_id or ""

        return self._run(f"releasing the digest of {email} for {local_day}", work, write=True)

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        """Record that the server accepted the message (250). Raises `StorageError`."""
        self._set_delivery(
            claim, (DeliveryState.UNKNOWN,), status=DeliveryState.SENT, sent_at=now, last_error=None
        )

    def mark_retry(self, claim: Claim, error: str, retry_at: datetime) -> None:
        """Record a temporary failure: nothing was accepted; try again at `retry_at`."""
        self._set_delivery(
            claim,
            (DeliveryState.CLAIMED, DeliveryState.UNKNOWN),
            status=DeliveryState.RETRY,
            last_error=error,
            next_attempt_at=retry_at,
        )

    def mark_failed(self, claim: Claim, error: str) -> None:
        """Record a permanent failure for that day (5xx, or too many attempts)."""
        self._set_delivery(
            claim,
            (DeliveryState.CLAIMED, DeliveryState.RETRY, DeliveryState.UNKNOWN),
            status=DeliveryState.FAILED,
            last_error=error,
            next_attempt_at=None,
        )

    def mark_skipped(self, claim: Claim, reason: str) -> None:
        """Record that the day's digest was empty and deliberately not sent."""
        self._set_delivery(
            claim,
            (DeliveryState.CLAIMED, DeliveryState.RETRY),
            status=DeliveryState.SKIPPED,
            last_error=reason,
            next_attempt_at=None,
        )

    def note_unknown(self, claim: Claim, error: str) -> None:
        """Keep the delivery `unknown` with why: the server went away after the
        whole message was sent, so it may have been accepted."""
        self._set_delivery(claim, (DeliveryState.UNKNOWN,), last_error=error)

    def recorded_days(self, emails: Collection[str], since: date) -> dict[str, set[date]]:
        """The local days from `since` on that have a delivery, per email
        (whatever its state: a day with a delivery is never claimed again)."""
        stmt = (
            select(DigestRow.recipient_email, DigestRow.local_day)
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .where(
                DigestRow.recipient_email.in_(list(emails)),
                DigestRow.local_day >= since.isoformat(),
            )
        )

        def work(session: Session) -> dict[str, set[date]]:
            days: dict[str, set[date]] = {}
            for email, day in session.execute(stmt):
                days.setdefault(email, set()).add(date.fromisoformat(day))
            return days

        return self._run("reading recorded digests", work)

    def last_sent_at(self, emails: Collection[str]) -> dict[str, datetime]:
        """When each of `emails` was last sent a digest that may have arrived
        (sent, or of unknown fate): the start of that send. Raises `StorageError`."""
        stmt = (
            select(DigestRow.recipient_email, func.max(DigestRow.built_at))
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .where(
                DigestRow.recipient_email.in_(list(emails)),
                DeliveryRow.status.in_((DeliveryState.SENT, DeliveryState.UNKNOWN)),
            )
            .group_by(DigestRow.recipient_email)
        )

        def work(session: Session) -> dict[str, datetime]:
            return {email: at for email, at in session.execute(stmt) if at is not None}

        return self._run("reading when digests were last sent", work)

    def latest_deliveries(self) -> list[RecordedDelivery]:
        """Each recipient's latest delivery (by local day), ordered by email."""
        latest_day = (
            select(DigestRow.recipient_email, func.max(DigestRow.local_day).label("day"))
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .group_by(DigestRow.recipient_email)
            .subquery()
        )
        stmt = (
            select(DeliveryRow, DigestRow.recipient_email, DigestRow.local_day)
            .join(DigestRow, DigestRow.id == DeliveryRow.digest_id)
            .join(
                latest_day,
                (latest_day.c.recipient_email == DigestRow.recipient_email)
                & (latest_day.c.day == DigestRow.local_day),
            )
            .order_by(DigestRow.recipient_email)
        )

        def work(session: Session) -> list[RecordedDelivery]:
            return [_state(row, email, day) for row, email, day in session.execute(stmt)]

        return self._run("reading deliveries", work)

    def recent_deliveries(self, limit: int) -> list[RecordedDelivery]:
        """The latest `limit` deliveries, newest local day first, then by email."""
        stmt = (
            select(DeliveryRow, DigestRow.recipient_email, DigestRow.local_day)
            .join(DigestRow, DigestRow.id == DeliveryRow.digest_id)
            .order_by(DigestRow.local_day.desc(), DigestRow.recipient_email)
            .limit(limit)
        )

        def work(session: Session) -> list[RecordedDelivery]:
            return [_state(row, email, day) for row, email, day in session.execute(stmt)]

        return self._run("reading deliveries", work)

    # -- helpers ---------------------------------------------------------------

    def _set_delivery(
        self, claim: Claim, from_states: tuple[DeliveryState, ...], **values: Any
    ) -> None:
        stmt = (
            update(DeliveryRow)
            .where(DeliveryRow.id == claim.delivery_id, DeliveryRow.status.in_(from_states))
            .values(**values)
        )
        if not self._updated_one(f"recording the delivery to {claim.email}", stmt):
            raise StorageError(
                f"the delivery to {claim.email} for {claim.local_day} is no longer "
                f"{' or '.join(from_states)}; not updated"
            )

    def _updated_one(self, action: str, stmt: Update) -> bool:
        return self._run(action, lambda s: _rowcount(s, stmt) == 1, write=True)


def _still_claimed(claim: Claim) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a delivery row still held by `claim`: claimed, at the
    claim's attempt (a lease that ended and was taken again is another's)."""
    return (
        DeliveryRow.id == claim.delivery_id,
        DeliveryRow.status == DeliveryState.CLAIMED,
        DeliveryRow.attempts == claim.attempts,
    )


def _rowcount(session: Session, stmt: Update) -> int:
    """How many rows an UPDATE changed (the guard of every state change)."""
    return int(cast(CursorResult[Any], session.execute(stmt)).rowcount)


def _state(row: DeliveryRow, email: str, day: str) -> RecordedDelivery:
    return RecordedDelivery(
        email=email,
        local_day=date.fromisoformat(day),
        status=DeliveryState(row.status),
        attempts=row.attempts,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        message_id=row.message_id,
        delivery_id=row.id,
    )

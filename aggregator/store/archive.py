"""The archive part of the repository: each digest as it was sent.

`record_copy` is called by `mark_unknown`, in the transaction that records
that a digest may have reached its recipient; a copy is read back only for
a delivery that was sent or may have been (`DeliveryState.SENT`,
`UNKNOWN`), and pruned with the posts after `[storage] keep_days`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from aggregator.domain.address import identity
from aggregator.domain.archive import ArchivedDigest, DigestCopy
from aggregator.domain.delivery import DeliveryState
from aggregator.store.engine import Transactions
from aggregator.store.tables import DeliveryRow, DigestArchiveRow, DigestRow

# Deliveries whose copy is shown: accepted by the mail server, or perhaps.
_SHOWN_STATES = (DeliveryState.SENT, DeliveryState.UNKNOWN)


def record_copy(session: Session, digest_id: int, copy: DigestCopy) -> None:
    """Keep `copy` as digest `digest_id`'s, replacing an earlier attempt's."""
    row = session.get(DigestArchiveRow, digest_id)
    if row is None:
        session.add(
            DigestArchiveRow(
                digest_id=digest_id, subject=copy.subject, html=copy.html, text=copy.text
            )
        )
    else:
        row.subject, row.html, row.text = copy.subject, copy.html, copy.text


def _archived(email: str) -> Any:
    return (
        select(DigestRow.local_day, DigestRow.built_at, DigestArchiveRow)
        .join(DigestArchiveRow, DigestArchiveRow.digest_id == DigestRow.id)
        .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
        .where(DigestRow.recipient_email == identity(email), DeliveryRow.status.in_(_SHOWN_STATES))
    )


class ArchiveRecords(Transactions):
    """Digests as they were sent; one part of `Repository`."""

    def archived_digest(self, email: str, local_day: date) -> ArchivedDigest | None:
        """`email`'s digest of `local_day` as it was sent, or None when none
        was (or its copy was pruned). Raises `StorageError`."""
        stmt = _archived(email).where(DigestRow.local_day == local_day.isoformat())

        def work(session: Session) -> ArchivedDigest | None:
            found = session.execute(stmt).first()
            return None if found is None else _model(email, *found)

        return self._run(f"reading the archive of {email}", work)

    def archived_digests(self, email: str, limit: int = 100) -> list[ArchivedDigest]:
        """`email`'s archived digests, newest day first (at most `limit`)."""
        stmt = _archived(email).order_by(DigestRow.local_day.desc()).limit(limit)

        def work(session: Session) -> list[ArchivedDigest]:
            return [_model(email, *found) for found in session.execute(stmt)]

        return self._run(f"reading the archive of {email}", work)

    def prune_archive(self, before: datetime) -> int:
        """Delete the copies of digests sent before `before`; returns how many went."""
        old = select(DigestRow.id).where(DigestRow.built_at < before)
        stmt = delete(DigestArchiveRow).where(DigestArchiveRow.digest_id.in_(old))

        def work(session: Session) -> int:
            return int(cast(CursorResult[Any], session.execute(stmt)).rowcount)

        return self._run("pruning the archive", work, write=True)


def _model(email: str, day: str, built_at: datetime, row: DigestArchiveRow) -> ArchivedDigest:
    return ArchivedDigest(
        email=identity(email),
        local_day=date.fromisoformat(day),
        sent_at=built_at,
        copy=DigestCopy(row.subject, row.html, row.text),
    )

"""The recipients part of the repository: syncing `[[recipients]]`, unsubscribes.

The configuration says who gets a digest and what they follow; a stored
recipient row adds what must outlive an edit of the file: whether they
unsubscribed, and when. `pln status` lists the active rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.domain.address import identity
from aggregator.domain.errors import StorageError
from aggregator.domain.recipient import RecipientConfig
from aggregator.store.conflicts import insert_missing
from aggregator.store.engine import Transactions
from aggregator.store.tables import RecipientRow


class RecipientRecords(Transactions):
    """Stored recipients and their unsubscribes; one part of `Repository`."""

    def sync_recipients(self, recipients: Sequence[RecipientConfig]) -> None:
        """Make the stored recipients match the configuration.

        Recipients missing from the configuration are deactivated, never
        deleted; one who unsubscribed stays inactive. What they follow is
        read from the configuration, not stored. Raises `StorageError`.
        """
        wanted = {recipient.email: recipient for recipient in recipients}
        new_rows = [_new_row(wanted[email]) for email in sorted(wanted)]

        def work(session: Session) -> None:
            # Inserted first, skipping addresses already there: another process
            # syncing the same file at the same moment is no duplicate key.
            insert_missing(session, RecipientRow, ["email"], new_rows)
            rows = {row.email: row for row in session.scalars(select(RecipientRow))}
            for email, config in wanted.items():
                _apply(rows[email], config)
            for email, row in rows.items():
                if email not in wanted:
                    row.is_active = False

        self._run("syncing recipients", work, write=True)

    def unsubscribe(self, email: str, now: datetime) -> bool:
        """Stop all digests to `email` (any case) from `now`; False if it already was.

        Raises `StorageError` when no recipient has that address.
        """

        def work(session: Session) -> bool:
            row = session.scalars(
                select(RecipientRow).where(RecipientRow.email == identity(email))
            ).one_or_none()
            if row is None:
                raise StorageError(f"no recipient {email} is stored; nothing to unsubscribe")
            if row.unsubscribed_at is not None:
                return False
            row.unsubscribed_at, row.is_active = now, False
            return True

        return self._run(f"unsubscribing {email}", work, write=True)

    def unsubscribed(self) -> set[str]:
        """The addresses (lower case) that unsubscribed and were not re-enabled."""
        stmt = select(RecipientRow.email).where(RecipientRow.unsubscribed_at.is_not(None))
        return self._run("reading unsubscribes", lambda s: {e.lower() for e in s.scalars(stmt)})

    def lift_unsubscribes(
        self, resubscribe: Mapping[str, date], configured: Collection[str]
    ) -> list[str]:
        """Re-enable recipients the admin listed in `[email] resubscribe`.

        An unsubscribe made on or before the listed day is lifted; a later
        one stands, so the entry can stay in the file. Recipients in
        `configured` become active again. Returns the addresses re-enabled.
        """
        wanted = {email.lower(): day for email, day in resubscribe.items()}
        active = {email.lower() for email in configured}
        if not wanted:
            return []

        def work(session: Session) -> list[str]:
            lifted = []
            for row in session.scalars(
                select(RecipientRow).where(RecipientRow.unsubscribed_at.is_not(None))
            ):
                day = wanted.get(row.email.lower())
                if (
                    day is not None
                    and row.unsubscribed_at is not None
                    and row.unsubscribed_at.date() <= day
                ):
                    row.unsubscribed_at = None
                    row.is_active = row.email.lower() in active
                    lifted.append(row.email)
            return lifted

        return self._run("re-enabling recipients", work, write=True)


def _new_row(config: RecipientConfig) -> dict[str, Any]:
    """The stored recipient for a new `[[recipients]]` entry."""
    return {
        "email": config.email,
        "name": config.name,
        "timezone": config.timezone,
        "send_at": config.send_at,
        "reading_minutes": config.reading_minutes,
        "is_active": True,
    }


def _apply(row: RecipientRow, config: RecipientConfig) -> None:
    """Copy a `[[recipients]]` entry onto its row; an unsubscribe outlasts it."""
    row.name = config.name
    row.timezone = config.timezone
    row.send_at = config.send_at
    row.reading_minutes = config.reading_minutes
    row.is_active = row.unsubscribed_at is None

"""The preferences part of the repository: teachers' own choices for their digest.

Keyed by the recipient's address (lower case, as deliveries are); a row
outlives an edit of config.toml, and one whose address left the file is
simply not read.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.domain.address import identity
from aggregator.domain.preferences import NO_PREFERENCES, Preferences
from aggregator.store.engine import Transactions
from aggregator.store.tables import PreferencesRow


class PreferenceRecords(Transactions):
    """Teachers' choices; one part of `Repository`."""

    def preferences(self, email: str) -> Preferences:
        """`email`'s choices (NO_PREFERENCES when they made none). Raises `StorageError`."""

        def work(session: Session) -> Preferences:
            row = session.get(PreferencesRow, identity(email))
            return NO_PREFERENCES if row is None else _model(row)

        return self._run(f"reading the preferences of {email}", work)

    def all_preferences(self) -> dict[str, Preferences]:
        """Every teacher's choices, by address. Raises `StorageError`."""

        def work(session: Session) -> dict[str, Preferences]:
            return {row.email: _model(row) for row in session.scalars(select(PreferencesRow))}

        return self._run("reading preferences", work)

    def save_preferences(self, email: str, preferences: Preferences, now: datetime) -> None:
        """Replace `email`'s choices with `preferences`. Raises `StorageError`."""
        values = {
            "send_at": preferences.send_at,
            "days": None if preferences.days is None else ",".join(preferences.days),
            "reading_minutes": preferences.reading_minutes,
            "timezone": preferences.timezone,
            "mute": list(preferences.mute),
            "boost": list(preferences.boost),
            "paused_until": _day(preferences.paused_until),
            "updated_at": now,
        }

        def work(session: Session) -> None:
            row = session.get(PreferencesRow, identity(email))
            if row is None:
                session.add(PreferencesRow(email=identity(email), **values))
                return
            for name, value in values.items():
                setattr(row, name, value)

        self._run(f"saving the preferences of {email}", work, write=True)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _model(row: PreferencesRow) -> Preferences:
    return Preferences(
        send_at=row.send_at,
        days=None if row.days is None else tuple(d for d in row.days.split(",") if d),
        reading_minutes=row.reading_minutes,
        timezone=row.timezone,
        mute=tuple(row.mute),
        boost=tuple(row.boost),
        paused_until=None if row.paused_until is None else date.fromisoformat(row.paused_until),
    )

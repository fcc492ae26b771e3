"""The feedback part of the repository: teachers' "more / less like this".

One row per teacher and source, author or topic, holding the latest
direction they chose; undoing deletes it. What admins see is counted per
source over all teachers (`leanings_by_source`): no one is named.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from aggregator.domain.address import identity
from aggregator.domain.feedback import NO_LEANINGS, Leaning, LeaningKind, Leanings
from aggregator.domain.post import Post
from aggregator.store.conflicts import upsert
from aggregator.store.engine import Transactions
from aggregator.store.tables import FeedbackRow, PostRow, post_from_row


@dataclass(frozen=True, slots=True)
class SourceLeanings:
    """How many teachers asked for more, and for less, of one source."""

    source_key: str
    more: int
    less: int


class FeedbackRecords(Transactions):
    """Teachers' leanings; one part of `Repository`."""

    def record_leanings(self, email: str, leanings: Sequence[Leaning], now: datetime) -> None:
        """Record `leanings` for `email`, replacing the direction of any they
        had chosen before for the same source, author or topic."""
        rows = [
            {
                "recipient_email": identity(email),
                "kind": leaning.kind.value,
                "value": leaning.value,
                "direction": leaning.direction,
                "created_at": now,
            }
            for leaning in leanings
        ]

        def work(session: Session) -> None:
            for row in rows:
                keys = ["recipient_email", "kind", "value"]
                upsert(session, FeedbackRow, keys, row, ["direction", "created_at"])

        self._run(f"recording the feedback of {email}", work, write=True)

    def leanings(self, email: str) -> Leanings:
        """`email`'s leanings, newest first. Raises `StorageError`."""
        return self.leanings_of([email]).get(email, NO_LEANINGS)

    def leanings_of(self, emails: Collection[str]) -> dict[str, Leanings]:
        """`leanings` of each of `emails` that has any, by the address as given,
        in one query (a send batch's recipients)."""
        asked = {identity(email): email for email in emails}
        stmt = (
            select(FeedbackRow)
            .where(FeedbackRow.recipient_email.in_(list(asked)))
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
        )

        def work(session: Session) -> dict[str, Leanings]:
            found: dict[str, list[Leaning]] = {}
            for row in session.scalars(stmt):
                found.setdefault(asked[row.recipient_email], []).append(_model(row))
            return {email: Leanings(tuple(items)) for email, items in found.items()}

        return self._run("reading teachers' feedback", work)

    def forget_leaning(self, email: str, kind: LeaningKind, value: str) -> bool:
        """Undo one leaning of `email`; False when there was none."""
        stmt = delete(FeedbackRow).where(
            FeedbackRow.recipient_email == identity(email),
            FeedbackRow.kind == kind.value,
            FeedbackRow.value == value,
        )

        def work(session: Session) -> bool:
            return int(cast(CursorResult[Any], session.execute(stmt)).rowcount) > 0

        return self._run(f"undoing feedback of {email}", work, write=True)

    def leanings_by_source(self) -> list[SourceLeanings]:
        """Per source, how many teachers lean towards and away from it; most asked first."""
        stmt = (
            select(FeedbackRow.value, FeedbackRow.direction, func.count())
            .where(FeedbackRow.kind == LeaningKind.SOURCE.value)
            .group_by(FeedbackRow.value, FeedbackRow.direction)
        )

        def work(session: Session) -> list[SourceLeanings]:
            counts: dict[str, list[int]] = {}
            for key, direction, count in session.execute(stmt):
                counts.setdefault(key, [0, 0])[0 if direction > 0 else 1] += count
            found = [SourceLeanings(key, more, less) for key, (more, less) in counts.items()]
            return sorted(found, key=lambda s: (-(s.more + s.less), s.source_key))

        return self._run("counting feedback", work)

    def find_post(self, source_key: str, external_id: str) -> Post | None:
        """The stored post with this key, or None."""
        stmt = select(PostRow).where(
            PostRow.source_key == source_key, PostRow.external_id == external_id
        )

        def work(session: Session) -> Post | None:
            row = session.scalars(stmt).first()
            return None if row is None else post_from_row(row)

        return self._run(f"reading post {source_key}/{external_id}", work)


def _model(row: FeedbackRow) -> Leaning:
    return Leaning(LeaningKind(row.kind), row.value, row.direction)

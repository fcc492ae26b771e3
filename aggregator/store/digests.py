"""The digests part of the repository: the posts a digest is built from, digests sent."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aggregator.domain.post import Post
from aggregator.store.engine import Transactions
from aggregator.store.tables import (
    DeliveryRow,
    DigestRow,
    PostRow,
    RecipientRow,
    post_from_row,
)


class DigestRecords(Transactions):
    """Posts read for digests, and digests recorded; one part of `Repository`."""

    def posts_for_digest(
        self, source_keys: Sequence[str], since: datetime, until: datetime
    ) -> list[Post]:
        """Posts of `source_keys` published in [since, until), newest first,
        with what was worked out when they were stored (story keys...).

        Ties are broken by external id. Raises `StorageError`.
        """
        if not source_keys:
            return []
        # Its columns, not ORM objects: a batch reads thousands of posts, and
        # making and tracking an object of each row costs as much as reading it.
        stmt = (
            select(PostRow.__table__)
            .where(
                PostRow.source_key.in_(source_keys),
                PostRow.published_at >= since,
                PostRow.published_at < until,
            )
            .order_by(PostRow.published_at.desc(), PostRow.external_id)
        )

        def work(session: Session) -> list[Post]:
            return [post_from_row(row) for row in session.execute(stmt)]

        return self._run("reading posts for a digest", work)

    def last_digest_at(self, email: str) -> datetime | None:
        """When the latest digest actually sent to `email` was built, or None."""
        return self.last_digests_at([email]).get(email)

    def last_digests_at(self, emails: Collection[str]) -> dict[str, datetime]:
        """`last_digest_at` of each of `emails` that was ever sent one, in one
        query (a send batch's recipients)."""
        stmt = (
            select(DigestRow.recipient_email, func.max(DigestRow.built_at))
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .where(DigestRow.recipient_email.in_(list(emails)), DeliveryRow.sent_at.is_not(None))
            .group_by(DigestRow.recipient_email)
        )

        def work(session: Session) -> dict[str, datetime]:
            return {email: at for email, at in session.execute(stmt) if at is not None}

        return self._run("reading when digests were last sent", work)

    def last_digests(self) -> list[tuple[str, datetime | None]]:
        """Each active recipient's email and when a digest was last sent (None: never).

        For `pln status`, ordered by email. Raises `StorageError`.
        """
        sent = (
            select(DigestRow.recipient_email, func.max(DeliveryRow.sent_at).label("sent_at"))
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .group_by(DigestRow.recipient_email)
            .subquery()
        )
        stmt = (
            select(RecipientRow.email, sent.c.sent_at)
            .outerjoin(sent, sent.c.recipient_email == RecipientRow.email)
            .where(RecipientRow.is_active)
            .order_by(RecipientRow.email)
        )

        def work(session: Session) -> list[tuple[str, datetime | None]]:
            return [(email, sent_at) for email, sent_at in session.execute(stmt)]

        return self._run("reading digests", work)

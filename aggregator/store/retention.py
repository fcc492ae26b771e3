"""The retention part of the repository: what digests showed, and pruning old posts.

A digest that goes out (or may have: see `DeliveryState.UNKNOWN`) records
the posts it showed (`record_shown_posts`, called by `mark_unknown` in
the same transaction). `prune_posts` deletes the posts older than
`[storage] keep_days`, except those: the archive of what was sent keeps
them. A post's links and story keys are columns of its row and go with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete, exists, func, insert, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from aggregator.domain.delivery import DeliveryState
from aggregator.store.engine import Transactions
from aggregator.store.tables import DeliveryRow, DigestPostRow, PostRow

# Deliveries whose posts are kept: accepted by the mail server, or perhaps.
_KEPT_STATES = (DeliveryState.SENT, DeliveryState.UNKNOWN)
# Posts looked up per query when recording a digest's posts.
_LOOKUP_BATCH = 500


@dataclass(frozen=True, slots=True)
class PostCounts:
    """How many posts are stored, and how many of them a sent digest showed."""

    stored: int
    shown_in_sent_digests: int


def record_shown_posts(session: Session, digest_id: int, shown: Sequence[tuple[str, str]]) -> None:
    """Record that digest `digest_id` showed the posts `shown` ((source key,
    external id), in order), replacing what an earlier attempt recorded.
    Posts no longer stored are left out."""
    session.execute(delete(DigestPostRow).where(DigestPostRow.digest_id == digest_id))
    ids: dict[tuple[str, str], int] = {}
    for start in range(0, len(shown), _LOOKUP_BATCH):
        wanted = shown[start : start + _LOOKUP_BATCH]
        stmt = select(PostRow.id, PostRow.source_key, PostRow.external_id).where(
            tuple_(PostRow.source_key, PostRow.external_id).in_(wanted)
        )
        ids.update({(key, ext): post_id for post_id, key, ext in session.execute(stmt)})
    rows = [
        {"digest_id": digest_id, "post_id": ids[post], "position": position}
        for position, post in enumerate(dict.fromkeys(shown))
        if post in ids
    ]
    if rows:
        session.execute(insert(DigestPostRow), rows)


def _shown_in_sent_digest() -> Exists:
    """Whether the post of the enclosing query was shown by a (maybe) sent digest."""
    return exists(
        select(DigestPostRow.post_id)
        .join(DeliveryRow, DeliveryRow.digest_id == DigestPostRow.digest_id)
        .where(DigestPostRow.post_id == PostRow.id, DeliveryRow.status.in_(_KEPT_STATES))
    )


class RetentionRecords(Transactions):
    """Pruning old posts; one part of `Repository`."""

    def prune_posts(self, before: datetime) -> int:
        """Delete the posts published and stored before `before`, except those a
        sent (or maybe sent) digest showed; returns how many went.

        Stored as well as published: a post first fetched today is kept its
        full time even when old, so a feed that still lists it does not
        bring it back as new at every fetch. Raises `StorageError`.
        """
        stmt = delete(PostRow).where(
            PostRow.published_at < before,
            PostRow.fetched_at < before,
            ~_shown_in_sent_digest(),
        )

        def work(session: Session) -> int:
            result = cast(CursorResult[tuple[()]], session.execute(stmt))
            return result.rowcount

        return self._run("pruning old posts", work, write=True)

    def post_counts(self) -> PostCounts:
        """All posts stored, and those a sent digest showed (for `pln status`)."""
        stored = select(func.count()).select_from(PostRow)
        shown = select(func.count()).select_from(PostRow).where(_shown_in_sent_digest())

        def work(session: Session) -> PostCounts:
            return PostCounts(session.scalar(stored) or 0, session.scalar(shown) or 0)

        return self._run("counting posts", work)

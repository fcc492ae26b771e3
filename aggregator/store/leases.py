"""The work leases part of the repository: short, renewable holds on work.

A lease is taken with one guarded write that succeeds for one process
only: a new row, or an expired row taken over (`abandoned` then counts the
holder that let it lapse). Renewing and releasing are guarded by the
holder, so a worker whose lease was taken over can neither renew nor drop
its successor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Update, delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from aggregator.domain.lease import Lease
from aggregator.store.conflicts import MAX_PARAMETERS, insert_if_new, insert_returning_keys
from aggregator.store.engine import Transactions
from aggregator.store.tables import WorkLeaseRow


class LeaseRecords(Transactions):
    """Leases on work shared by many workers; one part of `Repository`."""

    def take_lease(self, key: str, holder: str, now: datetime, ttl: timedelta) -> Lease | None:
        """Hold `key` for `holder` until `now + ttl`, when it is free or expired;
        None while it is held (by anyone: taking is not re-entrant). Raises
        `StorageError`."""
        expires = now + ttl
        row = {"key": key, "holder": holder, "taken_at": now, "expires_at": expires}
        take_over = _take_over(WorkLeaseRow.key == key, holder, now, expires).returning(
            WorkLeaseRow.abandoned
        )

        def work(session: Session) -> Lease | None:
            if insert_if_new(session, WorkLeaseRow, ["key"], {**row, "abandoned": 0}):
                return Lease(key, holder, now, expires)
            abandoned = session.execute(take_over).scalar_one_or_none()
            if abandoned is None:
                return None
            return Lease(key, holder, now, expires, int(abandoned))

        return self._run(f"taking the lease {key}", work, write=True)

    def take_leases(
        self, keys: Sequence[str], holder: str, now: datetime, ttl: timedelta
    ) -> set[str]:
        """Take for `holder` until `now + ttl` each of `keys` that is free or
        expired, as `take_lease` does one, in one transaction of a few
        statements however many keys there are; the keys taken (the others
        are held). Raises `StorageError`."""
        # Sorted: two schedulers taking the same keys wait for each other in
        # the same order instead of deadlocking.
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        expires = now + ttl
        rows = [
            {"key": k, "holder": holder, "taken_at": now, "expires_at": expires, "abandoned": 0}
            for k in wanted
        ]

        def work(session: Session) -> set[str]:
            taken = set(insert_returning_keys(session, WorkLeaseRow, "key", rows))
            rest = [k for k in wanted if k not in taken]
            for start in range(0, len(rest), MAX_PARAMETERS):
                chunk = rest[start : start + MAX_PARAMETERS]
                take_over = _take_over(WorkLeaseRow.key.in_(chunk), holder, now, expires)
                taken.update(session.execute(take_over.returning(WorkLeaseRow.key)).scalars())
            return taken

        return self._run(f"taking {len(wanted)} leases", work, write=True)

    def renew_lease(self, key: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Extend `holder`'s lease on `key` to `now + ttl`; False when it is no
        longer `holder`'s (expired and taken over, or released)."""
        stmt = (
            update(WorkLeaseRow)
            .where(WorkLeaseRow.key == key, WorkLeaseRow.holder == holder)
            .values(expires_at=now + ttl)
        )
        return self._run(f"renewing the lease {key}", lambda s: _changed(s, stmt), write=True)

    def release_lease(self, key: str, holder: str | None = None) -> bool:
        """Let `key` go (only if `holder` has it, when given); True if it was held."""
        stmt = delete(WorkLeaseRow).where(WorkLeaseRow.key == key)
        if holder is not None:
            stmt = stmt.where(WorkLeaseRow.holder == holder)
        return self._run(f"releasing the lease {key}", lambda s: _changed(s, stmt), write=True)

    def release_leases(self, keys: Sequence[str], holder: str) -> int:
        """Let go of each of `keys` that `holder` has, in a few statements; how many."""
        wanted = sorted(set(keys))

        def work(session: Session) -> int:
            released = 0
            for start in range(0, len(wanted), MAX_PARAMETERS):
                chunk = wanted[start : start + MAX_PARAMETERS]
                stmt = (
                    delete(WorkLeaseRow)
                    .where(WorkLeaseRow.key.in_(chunk), WorkLeaseRow.holder == holder)
                    .execution_options(synchronize_session=False)
                )
                released += _count(session, stmt)
            return released

        return self._run(f"releasing {len(wanted)} leases", work, write=True) if wanted else 0

    def live_lease_keys(self, prefix: str, now: datetime) -> set[str]:
        """Keys starting with `prefix` whose lease has not expired at `now`."""
        stmt = select(WorkLeaseRow.key).where(
            WorkLeaseRow.key.startswith(prefix, autoescape=True), WorkLeaseRow.expires_at > now
        )
        return self._run("reading leases", lambda s: set(s.scalars(stmt)))

    def oldest_lease(self, prefix: str, now: datetime) -> tuple[int, datetime | None]:
        """How many live leases start with `prefix`, and when the oldest was taken."""
        stmt = select(func.count(), func.min(WorkLeaseRow.taken_at)).where(
            WorkLeaseRow.key.startswith(prefix, autoescape=True), WorkLeaseRow.expires_at > now
        )

        def work(session: Session) -> tuple[int, datetime | None]:
            count, oldest = session.execute(stmt).one()
            return int(count), oldest

        return self._run("reading leases", work)

    def prune_leases(self, before: datetime) -> int:
        """Delete leases expired before `before` (the scheduler's housekeeping)."""
        stmt = delete(WorkLeaseRow).where(WorkLeaseRow.expires_at < before)
        return self._run("pruning leases", lambda s: _count(s, stmt), write=True)


def _take_over(which: ColumnElement[bool], holder: str, now: datetime, expires: datetime) -> Update:
    """The leases `which` that have expired, taken over by `holder` until `expires`."""
    return (
        update(WorkLeaseRow)
        .where(which, WorkLeaseRow.expires_at <= now)
        .values(
            holder=holder,
            taken_at=now,
            expires_at=expires,
            # A lease that lapsed was abandoned by its holder: released
            # leases are deleted.
            abandoned=WorkLeaseRow.abandoned + 1,
        )
        .execution_options(synchronize_session=False)
    )


def _changed(session: Session, stmt: Executable) -> bool:
    return _count(session, stmt) > 0


def _count(session: Session, stmt: Executable) -> int:
    return int(cast(CursorResult[Any], session.execute(stmt)).rowcount)

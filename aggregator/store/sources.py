"""The sources part of the repository: syncing `[[sources]]`, their state, saving fetches.

A fetch is one transaction: the batch of posts (written by
`aggregator.store.posts`) together with the source's attempt time, cursor,
validators, error and next attempt, so a crash never stores half of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, nulls_first, or_, select
from sqlalchemy.orm import Session

from aggregator.domain.errors import StorageError
from aggregator.domain.source import FetchResult, FetchState, SourceConfig, SourceStatus
from aggregator.store.conflicts import insert_missing
from aggregator.store.engine import Transactions
from aggregator.store.posts import (
    dedupe,
    insert_posts,
    split_batch,
    success_values,
    update_posts,
)
from aggregator.store.tables import PostRow, SourceRow

# Why a source is inactive when the admin removed it from the file; any other
# reason (410 Gone...) keeps it inactive until the admin edits its options.
_REMOVED_FROM_CONFIG = "removed from the configuration"


class SourceRecords(Transactions):
    """Stored sources and their fetches; one part of `Repository`."""

    def sync_sources(self, sources: Sequence[SourceConfig], now: datetime) -> None:
        """Make the stored sources match the configuration; idempotent.

        New keys are inserted active and due at `now`. Existing keys take the
        new kind, name and options and are re-activated, except a source a
        failure deactivated (410 Gone) whose kind and options did not change.
        Keys missing from the configuration are deactivated, never deleted,
        so their posts stay. Raises `StorageError`.
        """
        wanted = {source.key: source for source in sources}
        new_rows = [_new_row(wanted[key], now) for key in sorted(wanted)]

        def work(session: Session) -> None:
            # Inserted first, skipping keys already there: another process
            # syncing the same file at the same moment is no duplicate key.
            insert_missing(session, SourceRow, ["key"], new_rows)
            rows = {row.key: row for row in session.scalars(select(SourceRow))}
            for key, config in wanted.items():
                _reconcile(rows[key], config, now)
            for key, row in rows.items():
                if key not in wanted and row.is_active:
                    row.is_active = False
                    row.deactivated_reason = _REMOVED_FROM_CONFIG

        self._run("syncing sources", work, write=True)

    def source_statuses(
        self,
        keys: Sequence[str] | None = None,
        include_inactive: bool = True,
        with_post_counts: bool = True,
    ) -> list[SourceStatus]:
        """Stored state of the sources in `keys` (all when None), ordered by key.

        `posts_stored` comes from one grouped count, skipped (left 0) when
        `with_post_counts` is False: the scheduler asks every minute and a
        count reads every post. Raises `StorageError`.
        """
        chosen: list[ColumnElement[bool]] = []
        if keys is not None:
            chosen.append(SourceRow.key.in_(keys))
        if not include_inactive:
            chosen.append(SourceRow.is_active.is_(True))

        counts = select(PostRow.source_key, func.count().label("n")).group_by(PostRow.source_key)
        if keys is not None:
            counts = counts.where(PostRow.source_key.in_(keys))
        count_table = counts.subquery()
        counted = (
            select(*_STATUS_COLUMNS, func.coalesce(count_table.c.n, 0).label("n"))
            .outerjoin(count_table, count_table.c.source_key == SourceRow.key)
            .where(*chosen)
            .order_by(SourceRow.key)
        )
        plain = select(*_STATUS_COLUMNS).where(*chosen).order_by(SourceRow.key)

        def work(session: Session) -> list[SourceStatus]:
            # Columns, not ORM entities: the admin's sources page reads thousands.
            if with_post_counts:
                return [_status_of(row, row.n) for row in session.execute(counted)]
            return [_status_of(row, 0) for row in session.execute(plain)]

        return self._run("reading source status", work)

    def posts_since(self, since: datetime) -> dict[str, int]:
        """How many stored posts each source published at or after `since`
        (one grouped count; a source with none is absent)."""
        stmt = (
            select(PostRow.source_key, func.count())
            .where(PostRow.published_at >= since)
            .group_by(PostRow.source_key)
        )

        def work(session: Session) -> dict[str, int]:
            return {str(key): int(count) for key, count in session.execute(stmt)}

        return self._run("counting recent posts", work)

    def due_source_keys(self, now: datetime) -> list[str]:
        """Keys of active sources due at `now` (never tried first, then most overdue)."""
        stmt = (
            select(SourceRow.key)
            .where(SourceRow.is_active)
            .where(or_(SourceRow.next_attempt_at.is_(None), SourceRow.next_attempt_at <= now))
            .order_by(nulls_first(SourceRow.next_attempt_at.asc()), SourceRow.key)
        )
        return self._run("listing due sources", lambda s: list(s.scalars(stmt)))

    def save_fetch(
        self,
        source_key: str,
        result: FetchResult,
        now: datetime,
        next_attempt_at: datetime,
    ) -> tuple[int, int]:
        """Store one successful fetch in one transaction; returns (new, updated).

        New posts are inserted; a stored post whose content hash changed is
        rewritten in place, links and story keys with it; an unchanged one
        costs no write. Within the batch the last post with an external id
        wins. The source's cursor, ETag and Last-Modified become the result's
        (kept on 304), a permanent redirect is remembered, failures reset.
        Either all of it is stored or none. Raises `StorageError`, and
        `ValueError` for a post of another source.
        """
        posts = dedupe(source_key, result.posts)

        def work(session: Session) -> tuple[int, int]:
            source = _source_row(session, source_key, lock=True)
            new, changed = split_batch(session, source_key, posts)
            insert_posts(session, new, now)
            update_posts(session, changed, now)
            for column, value in success_values(result, now, next_attempt_at, bool(new)).items():
                setattr(source, column, value)
            return len(new), len(changed)

        return self._run(f"saving posts of {source_key}", work, write=True)

    def save_failure(
        self,
        source_key: str,
        message: str,
        now: datetime,
        next_attempt_at: datetime,
        deactivate: bool = False,
        wait_until: datetime | None = None,
    ) -> None:
        """Record a failed fetch of `source_key`; its stored posts are untouched.

        `deactivate` (410 Gone) makes the source inactive with `message` as
        the reason until the admin edits it. `wait_until` is when the network
        asked us to come back (rate limit); None clears an earlier one.
        Raises `StorageError`, also when no source `source_key` is stored.
        """

        def work(session: Session) -> None:
            row = _source_row(session, source_key, lock=True)
            row.last_attempt_at = now
            row.last_error = message
            row.consecutive_failures += 1
            row.next_attempt_at = next_attempt_at
            row.wait_until = wait_until
            if deactivate:
                row.is_active = False
                row.deactivated_reason = message

        self._run(f"recording failure of {source_key}", work, write=True)


def _source_row(session: Session, key: str, lock: bool = False) -> SourceRow:
    """The stored source `key`, row-locked on PostgreSQL when `lock`.

    The lock makes two workers saving the same source take turns, so the
    second sees the posts the first inserted. Raises `StorageError`.
    """
    stmt = select(SourceRow).where(SourceRow.key == key)
    row = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if row is None:
        raise StorageError(f"unknown source {key!r}; sync the configuration first")
    return row


# -- mapping between models and rows ---------------------------------------------


def _new_row(config: SourceConfig, now: datetime) -> dict[str, Any]:
    """The stored source for a new `[[sources]]` entry: active and due at `now`."""
    return {
        "key": config.key,
        "kind": config.kind,
        "name": config.name,
        "options": dict(config.options),
        "is_active": True,
        "consecutive_failures": 0,
        "next_attempt_at": now,
    }


def _reconcile(row: SourceRow, config: SourceConfig, now: datetime) -> None:
    """Apply an edited `[[sources]]` entry to its stored row (see `sync_sources`)."""
    options = dict(config.options)
    row.name = config.name
    if row.kind != config.kind or row.options != options:
        # A new target: what the old one told us (ETag, redirect, errors) no longer applies.
        row.kind, row.options = config.kind, options
        row.cursor = row.etag = row.last_modified = row.moved_url = None
        row.last_error, row.consecutive_failures = None, 0
        row.next_attempt_at = now
        row.is_active, row.deactivated_reason = True, None
    elif not row.is_active and row.deactivated_reason in (None, _REMOVED_FROM_CONFIG):
        row.is_active, row.deactivated_reason = True, None


_STATUS_COLUMNS = (
    SourceRow.key,
    SourceRow.kind,
    SourceRow.is_active,
    SourceRow.last_attempt_at,
    SourceRow.last_success_at,
    SourceRow.last_new_post_at,
    SourceRow.last_error,
    SourceRow.consecutive_failures,
    SourceRow.next_attempt_at,
    SourceRow.wait_until,
    SourceRow.cursor,
    SourceRow.etag,
    SourceRow.last_modified,
    SourceRow.moved_url,
)


def _status_of(row: Row[*tuple[Any, ...]], posts_stored: int) -> SourceStatus:
    """The `SourceStatus` of a stored source."""
    return SourceStatus(
        key=row.key,
        kind=row.kind,
        is_active=row.is_active,
        posts_stored=posts_stored,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        last_new_post_at=row.last_new_post_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        next_attempt_at=row.next_attempt_at,
        wait_until=row.wait_until,
        # What the connector is handed to fetch only what is new.
        state=FetchState(
            cursor=row.cursor, etag=row.etag, last_modified=row.last_modified, url=row.moved_url
        ),
    )

"""The repository: posts, sources, recipients and digests in SQLite or PostgreSQL.

Models in, models out (STYLE.md §5): callers hand in and get back the
dataclasses of `aggregator.domain.post`; SQLAlchemy and the rows of
`aggregator.store.tables` stay inside this module. Every SQLAlchemy or driver error
leaves as a one-line `StorageError`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

from alembic.util import CommandError
from sqlalchemy import (
    ColumnElement,
    Engine,
    delete,
    func,
    insert,
    make_url,
    nulls_first,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator.domain.errors import StorageError
from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, FetchState, SourceConfig, SourceStatus
from aggregator.store.migrations import upgrade_to_head
from aggregator.store.posts import (
    dedupe,
    insert_posts,
    replace_links,
    split_batch,
    success_values,
    update_posts,
)
from aggregator.store.tables import (
    REMOVED_FROM_CONFIG,
    WRITE_OPTION,
    DeliveryRow,
    DigestRow,
    PostLinkRow,
    PostRow,
    PostStoryKeyRow,
    RecipientFollowRow,
    RecipientRow,
    SourceRow,
    apply_recipient,
    create_engine_for,
    fetch_state_of,
    new_source_row,
    post_from_row,
    reconcile_source,
    status_of,
)

__all__ = ["REMOVED_FROM_CONFIG", "Repository"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Attempts at a transaction that met a lock, a deadlock or a serialisation
# failure; on SQLite each attempt has already waited busy_timeout (5 s).
_ATTEMPTS = 3
_BACKOFF_S = 0.05
# The password of a URL, found even when SQLAlchemy cannot parse the URL.
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)([^@/]+)@")
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock


class Repository:
    """Where PLN Digest keeps everything; get one with `Repository.open(url)`."""

    def __init__(self, engine: Engine, url: str) -> None:
        """Wrap an engine already migrated to head; call `open` instead."""
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._url = url

    @classmethod
    def open(cls, url: str) -> Repository:
        """Connect to `url` (`sqlite:///pln.db`, `postgresql+psycopg://...`), migrate to head.

        Creates the schema on first use; opening an up-to-date database
        changes nothing. Raises `StorageError` (password hidden) when the
        database cannot be reached, opened or migrated.
        """
        try:
            engine = create_engine_for(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(f"cannot open database {_shown(url)}: {_reason(exc, url)}") from exc
        try:
            with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
                upgrade_to_head(conn, _shown(url))
        except (SQLAlchemyError, CommandError) as exc:
            engine.dispose()
            raise StorageError(f"cannot open database {_shown(url)}: {_reason(exc, url)}") from exc
        except StorageError:
            engine.dispose()
            raise
        return cls(engine, url)

    def close(self) -> None:
        """Close every pooled connection; the repository is unusable after."""
        self._engine.dispose()

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repository({_shown(self._url)!r})"

    # -- configuration -------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceConfig], now: datetime) -> None:
        """Make the stored sources match the configuration; idempotent.

        New keys are inserted active and due at `now`. Existing keys take the
        new kind, name and options and are re-activated, except a source a
        failure deactivated (410 Gone) whose kind and options did not change.
        Keys missing from the configuration are deactivated, never deleted,
        so their posts stay. Raises `StorageError`.
        """
        wanted = {source.key: source for source in sources}

        def work(session: Session) -> None:
            rows = {row.key: row for row in session.scalars(select(SourceRow))}
            for key, config in wanted.items():
                if key in rows:
                    reconcile_source(rows[key], config, now)
                else:
                    session.add(new_source_row(config, now))
            for key, row in rows.items():
                if key not in wanted and row.is_active:
                    row.is_active = False
                    row.deactivated_reason = REMOVED_FROM_CONFIG

        self._run("syncing sources", work, write=True)

    def sync_recipients(self, recipients: Sequence[RecipientConfig]) -> None:
        """Make the stored recipients and what they follow match the configuration.

        Recipients missing from the configuration are deactivated, never
        deleted; one who unsubscribed stays inactive. Raises `StorageError`.
        """
        wanted = {recipient.email: recipient for recipient in recipients}

        def work(session: Session) -> None:
            rows = {row.email: row for row in session.scalars(select(RecipientRow))}
            for email, config in wanted.items():
                if email not in rows:
                    rows[email] = RecipientRow(email=email, is_active=True)
                    session.add(rows[email])
                apply_recipient(rows[email], config)
            for email, row in rows.items():
                if email not in wanted:
                    row.is_active = False
            session.flush()  # gives new recipients their ids
            _replace_follows(session, {rows[e].id: set(c.follow) for e, c in wanted.items()})

        self._run("syncing recipients", work, write=True)

    # -- sources --------------------------------------------------------------

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
            select(SourceRow, func.coalesce(count_table.c.n, 0))
            .outerjoin(count_table, count_table.c.source_key == SourceRow.key)
            .where(*chosen)
            .order_by(SourceRow.key)
        )
        plain = select(SourceRow).where(*chosen).order_by(SourceRow.key)

        def work(session: Session) -> list[SourceStatus]:
            if with_post_counts:
                return [status_of(row, n) for row, n in session.execute(counted)]
            return [status_of(row, 0) for row in session.scalars(plain)]

        return self._run("reading source status", work)

    def fetch_state(self, key: str) -> FetchState:
        """What the connector of source `key` needs to fetch only what is new.

        Raises `StorageError` if the source is not stored.
        """
        return self._run(f"reading state of {key}", lambda s: fetch_state_of(_source_row(s, key)))

    def due_source_keys(self, now: datetime) -> list[str]:
        """Keys of active sources due at `now` (never tried first, then most overdue)."""
        stmt = (
            select(SourceRow.key)
            .where(SourceRow.is_active)
            .where(or_(SourceRow.next_attempt_at.is_(None), SourceRow.next_attempt_at <= now))
            .order_by(nulls_first(SourceRow.next_attempt_at.asc()), SourceRow.key)
        )
        return self._run("listing due sources", lambda s: list(s.scalars(stmt)))

    # -- fetches ----------------------------------------------------------------

    def save_fetch(
        self,
        source_key: str,
        result: FetchResult,
        now: datetime,
        next_attempt_at: datetime,
    ) -> tuple[int, int]:
        """Store one successful fetch in one transaction; returns (new, updated).

        New posts are inserted; a stored post whose content hash changed is
        updated in place (with its links); an unchanged one costs no write.
        Within the batch the last post with an external id wins. The
        source's cursor, ETag and Last-Modified become the result's (kept on
        304), a permanent redirect is remembered, failures reset. Either all
        of it is stored or none. Raises `StorageError`, and `ValueError` for a
        post of another source.
        """
        posts = dedupe(source_key, result.posts)

        def work(session: Session) -> tuple[int, int]:
            source = _source_row(session, source_key, lock=True)
            new, changed = split_batch(session, source_key, posts)
            ids = insert_posts(session, new, now)
            update_posts(session, changed, now)
            replace_links(session, [(ids[p.external_id], p) for p in new], changed)
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
        Raises `StorageError`.
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

    # -- digests ----------------------------------------------------------------

    def posts_for_digest(
        self, source_keys: Sequence[str], since: datetime, until: datetime
    ) -> list[Post]:
        """Posts of `source_keys` published in [since, until), newest first,
        with what was worked out when they were stored (story keys...).

        Ties are broken by external id. Raises `StorageError`.
        """
        if not source_keys:
            return []
        window = (
            PostRow.source_key.in_(source_keys),
            PostRow.published_at >= since,
            PostRow.published_at < until,
        )
        posts_stmt = (
            select(PostRow)
            .where(*window)
            .order_by(PostRow.published_at.desc(), PostRow.external_id)
        )
        # One query each for the links and story keys of the whole result,
        # not one per post.
        links_stmt = (
            select(PostLinkRow.post_id, PostLinkRow.url)
            .where(PostLinkRow.post_id.in_(select(PostRow.id).where(*window)))
            .order_by(PostLinkRow.post_id, PostLinkRow.position)
        )
        keys_stmt = (
            select(PostStoryKeyRow.post_id, PostStoryKeyRow.key)
            .where(PostStoryKeyRow.post_id.in_(select(PostRow.id).where(*window)))
            .order_by(PostStoryKeyRow.post_id, PostStoryKeyRow.position)
        )

        def work(session: Session) -> list[Post]:
            rows = session.scalars(posts_stmt).all()
            links: dict[int, list[str]] = {}
            for post_id, url in session.execute(links_stmt):
                links.setdefault(post_id, []).append(url)
            keys: dict[int, list[str]] = {}
            for post_id, key in session.execute(keys_stmt):
                keys.setdefault(post_id, []).append(key)
            return [
                post_from_row(row, tuple(links.get(row.id, ())), tuple(keys.get(row.id, ())))
                for row in rows
            ]

        return self._run("reading posts for a digest", work)

    def last_digest_at(self, email: str) -> datetime | None:
        """When the latest digest actually sent to `email` was built, or None."""
        stmt = (
            select(DigestRow.built_at)
            .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
            .where(DigestRow.recipient_email == email, DeliveryRow.sent_at.is_not(None))
            .order_by(DigestRow.built_at.desc())
            .limit(1)
        )
        return self._run(f"reading digests of {email}", lambda s: s.scalar(stmt))

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

    def record_digest(
        self, email: str, local_day: str, built_at: datetime, post_count: int
    ) -> None:
        """Record that `email`'s digest for `local_day` (YYYY-MM-DD) was built.

        Building the same day again updates that row. Raises `StorageError`.
        """
        values = {
            "recipient_email": email,
            "local_day": local_day,
            "built_at": built_at,
            "post_count": post_count,
        }

        def work(session: Session) -> None:
            upsert = (
                postgresql_insert(DigestRow)
                if session.get_bind().dialect.name == "postgresql"
                else sqlite_insert(DigestRow)
            ).values(values)
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=["recipient_email", "local_day"],
                    set_={"built_at": built_at, "post_count": post_count},
                )
            )

        self._run(f"recording digest of {email}", work, write=True)

    def count_posts(self) -> int:
        """How many posts are stored, all sources together."""
        stmt = select(func.count()).select_from(PostRow)
        return self._run("counting posts", lambda s: s.execute(stmt).scalar_one())

    # -- transactions -----------------------------------------------------------

    def run(self, action: str, work: Callable[[Session], T], write: bool = False) -> T:
        """Run `work(session)` in one transaction, as every method here does.

        For the `storage_*.py` parts of the repository only (deliveries...):
        they keep SQLAlchemy inside storage too. Raises `StorageError`.
        """
        return self._run(action, work, write)

    def _run(self, action: str, work: Callable[[Session], T], write: bool = False) -> T:
        """Run `work` in one transaction, retried while the database is busy.

        `action` names what failed in the `StorageError` message.
        """
        bind = self._writer if write else self._engine
        attempt = 1
        while True:
            try:
                with Session(bind, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except SQLAlchemyError as exc:
                if attempt < _ATTEMPTS and _is_transient(exc):
                    log.info("%s: database busy (attempt %d), retrying", action, attempt)
                    time.sleep(_BACKOFF_S * 2 ** (attempt - 1))
                    attempt += 1
                    continue
                raise StorageError(
                    f"{action} failed: {_reason(exc, self._url)} ({_shown(self._url)})"
                ) from exc


# -- errors ---------------------------------------------------------------------


def _shown(url: str) -> str:
    """`url` with its password replaced by ***, even when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return _URL_PASSWORD.sub(r"\1***@", url)


def _reason(exc: BaseException, url: str) -> str:
    """The first line of what the driver said, with any password scrubbed."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    message = lines[0].strip() if lines else type(cause).__name__
    if isinstance(cause, ImportError):
        message = f"{message}; install the driver (pip install 'pln-digest[postgres]')"
    found = _URL_PASSWORD.search(url)
    password = found.group(2) if found else None
    return message.replace(password, "***") if password else message


def _is_transient(exc: SQLAlchemyError) -> bool:
    """Whether trying the transaction again may succeed (lock, deadlock)."""
    if not isinstance(exc, DBAPIError):
        return False
    if "database is locked" in str(exc.orig):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


# -- sources and recipients -----------------------------------------------------


def _replace_follows(session: Session, follows: dict[int, set[str]]) -> None:
    """Replace the follows of the recipients whose set changed."""
    stored: dict[int, set[str]] = {recipient_id: set() for recipient_id in follows}
    for recipient_id, key in session.execute(
        select(RecipientFollowRow.recipient_id, RecipientFollowRow.source_key)
    ):
        stored.setdefault(recipient_id, set()).add(key)
    changed = [rid for rid, keys in follows.items() if stored[rid] != keys]
    if not changed:
        return
    session.execute(
        delete(RecipientFollowRow)
        .where(RecipientFollowRow.recipient_id.in_(changed))
        .execution_options(synchronize_session=False)
    )
    rows = [{"recipient_id": r, "source_key": k} for r in changed for k in sorted(follows[r])]
    if rows:
        session.execute(insert(RecipientFollowRow), rows)


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

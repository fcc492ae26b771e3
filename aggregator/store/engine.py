"""Connecting to SQLite or PostgreSQL, and the one way the store uses the connection.

`create_engine_for` gives SQLite real transactions and its PRAGMAs.
`Transactions` is the base of every part of `Repository`: each method runs
its work through `_run`, one transaction retried while the database is busy,
so no SQLAlchemy `Session` leaves the store. Every SQLAlchemy or driver
error leaves `_run` as a one-line `StorageError` with the password hidden.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from aggregator.domain.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Execution option of write transactions: they take SQLite's write lock at BEGIN.
WRITE_OPTION = "pln_write"

_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # wait up to 5 s for another writer's lock
    "PRAGMA journal_mode=WAL",  # readers never block the writer
    "PRAGMA foreign_keys=ON",  # off by default in SQLite
    "PRAGMA synchronous=NORMAL",  # durable enough with WAL, much faster than FULL
)
# Attempts at a transaction that met a lock, a deadlock or a serialisation
# failure; on SQLite each attempt has already waited busy_timeout (5 s).
_ATTEMPTS = 3
_BACKOFF_S = 0.05
# The password of a URL, found even when SQLAlchemy cannot parse the URL.
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)([^@/]+)@")
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock


def create_engine_for(url: str) -> Engine:
    """An engine for `url`: SQLite (PRAGMAs, real transactions) or PostgreSQL.

    Raises `ArgumentError` for a malformed URL or another database, and
    `ImportError` when the driver is not installed.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    if backend != "sqlite":
        raise ArgumentError(
            f"unsupported database {backend!r}; use sqlite:///FILE or postgresql+psycopg://..."
        )
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or each thread would see its own empty database.
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = create_engine(parsed)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # sqlite3 skips BEGIN before SELECT and DDL; we emit it ourselves so
    # reads are consistent and a migration is all or nothing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A writer takes the lock at BEGIN, so busy_timeout waits for it; a
    # deferred BEGIN would fail at its first write if another writer got in.
    is_write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")


class Transactions:
    """An engine already migrated to head, and its retried transactions.

    The base of each part of `Repository`; get one with `Repository.open`.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        """Wrap `engine`, opened from `url` (named, password hidden, in errors)."""
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._url = url

    def _run(self, action: str, work: Callable[[Session], T], write: bool = False) -> T:
        """Run `work(session)` in one transaction, retried while the database is busy.

        `write` takes SQLite's write lock at BEGIN. `action` names what
        failed in the `StorageError` message.
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
                    f"{action} failed: {reason(exc, self._url)} ({shown(self._url)})"
                ) from exc


def shown(url: str) -> str:
    """`url` with its password replaced by ***, even when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return _URL_PASSWORD.sub(r"\1***@", url)


def reason(exc: BaseException, url: str) -> str:
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

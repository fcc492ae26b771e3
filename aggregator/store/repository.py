"""The repository: posts, sources, recipients, digests and deliveries in SQLite or PostgreSQL.

Models in, models out: callers hand in and get back the dataclasses of
`aggregator.domain`; SQLAlchemy and the rows of `aggregator.store.tables`
stay inside the store. `Repository` is the one class callers use; its
methods live with their concern in `sources.py`, `recipients.py`,
`digests.py`, `deliveries.py`, `retention.py`, `leases.py`,
`archive.py`, `preferences.py` and `feedback.py`, each running its work
through the retried transactions of `engine.py`. Every SQLAlchemy or
driver error leaves as a one-line `StorageError`.
"""

from __future__ import annotations

from types import TracebackType

from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aggregator.domain.errors import StorageError
from aggregator.store.admins import AdminRecords
from aggregator.store.archive import ArchiveRecords
from aggregator.store.deliveries import DeliveryRecords
from aggregator.store.digests import DigestRecords
from aggregator.store.engine import WRITE_OPTION, create_engine_for, reason, shown
from aggregator.store.feedback import FeedbackRecords
from aggregator.store.leases import LeaseRecords
from aggregator.store.migrations import upgrade_to_head
from aggregator.store.preferences import PreferenceRecords
from aggregator.store.recipients import RecipientRecords
from aggregator.store.retention import RetentionRecords
from aggregator.store.sources import SourceRecords

__all__ = ["Repository"]


class Repository(
    SourceRecords,
    RecipientRecords,
    DigestRecords,
    DeliveryRecords,
    RetentionRecords,
    ArchiveRecords,
    PreferenceRecords,
    FeedbackRecords,
    AdminRecords,
    LeaseRecords,
):
    """Where PLN Digest keeps everything; get one with `Repository.open(url)`."""

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
            raise StorageError(f"cannot open database {shown(url)}: {reason(exc, url)}") from exc
        try:
            with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
                upgrade_to_head(conn, shown(url))
        except (SQLAlchemyError, CommandError) as exc:
            engine.dispose()
            raise StorageError(f"cannot open database {shown(url)}: {reason(exc, url)}") from exc
        except StorageError:
            engine.dispose()
            raise
        return cls(engine, url)

    def ping(self) -> None:
        """Ask the database a trivial question; raises `StorageError` when it does not answer."""
        self._run("database check", lambda session: session.execute(text("SELECT 1")))

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
        return f"Repository({shown(self._url)!r})"

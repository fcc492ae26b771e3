"""Alembic migrations of the PLN Digest schema, applied on first use.

`upgrade_to_head` is what `Repository.open` calls; users need no alembic.ini.
Revisions in `versions/` are append-only: never edit a released one, add one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from aggregator.domain.errors import StorageError

log = logging.getLogger(__name__)

# Serialises concurrent first opens on PostgreSQL (several workers starting).
_PG_MIGRATION_LOCK = 0x504C4E  # "PLN"


def alembic_config() -> Config:
    """Alembic's configuration for the revisions shipped in this package."""
    config = Config()
    location = str(Path(__file__).parent).replace("%", "%%")  # configparser syntax
    config.set_main_option("script_location", location)
    return config


def upgrade_to_head(conn: Connection, shown_url: str) -> None:
    """Bring the schema on `conn` to the newest revision, in one transaction.

    A database already at head is left alone. `shown_url` (password hidden)
    names the database in messages. Raises `StorageError` when the database
    is newer than this code, and whatever SQLAlchemy or Alembic raise.
    """
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        if current is not None and current not in {r.revision for r in script.walk_revisions()}:
            raise StorageError(
                f"database {shown_url} has schema revision {current}, newer than this "
                f"pln-digest knows ({head}); upgrade pln-digest"
            )
        log.info("migrating database %s from %s to %s", shown_url, current, head)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

"""Alembic environment for PLN Digest.

Users never run Alembic: `Repository.open` calls `command.upgrade` with an open
connection in `config.attributes["connection"]` and no alembic.ini. Developers
write a new revision with the ini shipped next to this file, e.g.
`PLN_DATABASE_URL=sqlite:///dev.db alembic -c aggregator/migrations/alembic.ini
revision --autogenerate -m "add x"`.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from aggregator.store.tables import Base

config = context.config


def _configure_and_run(connection: sa.Connection) -> None:
    # Batch mode lets later revisions ALTER tables on SQLite (copy-and-move).
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the caller's connection, or on PLN_DATABASE_URL for developers."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = os.environ.get("PLN_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set PLN_DATABASE_URL to the database to migrate")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()

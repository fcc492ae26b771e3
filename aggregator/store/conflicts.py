"""Inserts that are safe to race: INSERT ... ON CONFLICT DO NOTHING.

Two processes starting together (two `pln send`, a service and a command)
write the same rows at the same moment. Reading first and inserting what
was missing fails for the second with a duplicate key at READ COMMITTED;
an insert that skips the rows already there (or being inserted by the
other, whose commit it waits for) does not. SQLite and PostgreSQL spell it
alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aggregator.store.tables import Base

# A statement may carry at most 65,535 parameters on PostgreSQL and 32,766
# on SQLite: a district's recipients are inserted in batches under both.
MAX_PARAMETERS = 30_000


def insert_missing(
    session: Session, table: type[Base], keys: list[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert each of `rows` whose `keys` (a unique constraint) are not stored yet."""
    if not rows:
        return
    batch = max(1, MAX_PARAMETERS // max(len(row) for row in rows))
    for start in range(0, len(rows), batch):
        chunk = list(rows[start : start + batch])
        session.execute(
            _insert(session, table).values(chunk).on_conflict_do_nothing(index_elements=keys)
        )


def insert_returning_keys(
    session: Session, table: type[Base], key: str, rows: Sequence[dict[str, Any]]
) -> list[Any]:
    """Insert each of `rows` whose `key` (the primary key) is not stored yet, in
    as few statements as the parameter limit allows; the keys inserted."""
    if not rows:
        return []
    column = table.__table__.c[key]
    batch = max(1, MAX_PARAMETERS // max(len(row) for row in rows))
    inserted: list[Any] = []
    for start in range(0, len(rows), batch):
        stmt = (
            _insert(session, table)
            .values(list(rows[start : start + batch]))
            .on_conflict_do_nothing(index_elements=[key])
            .returning(column)
        )
        inserted.extend(session.execute(stmt).scalars())
    return inserted


def insert_new(
    session: Session, table: type[Base], keys: list[str], values: dict[str, Any]
) -> int | None:
    """Insert one row unless its `keys` are stored: the new row's id, or None
    when a row with those keys exists."""
    stmt = (
        _insert(session, table)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.__table__.c.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def insert_if_new(
    session: Session, table: type[Base], keys: list[str], values: dict[str, Any]
) -> bool:
    """Insert one row unless its `keys` are stored; whether it was inserted."""
    stmt = (
        _insert(session, table)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.__table__.c[keys[0]])
    )
    return session.execute(stmt).first() is not None


def _insert(session: Session, table: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def upsert(
    session: Session,
    table: type[Base],
    keys: list[str],
    values: dict[str, Any],
    update: list[str],
) -> None:
    """Insert one row, or when its `keys` are stored, set its `update` columns."""
    stmt = _insert(session, table).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=keys, set_={name: stmt.excluded[name] for name in update}
        )
    )

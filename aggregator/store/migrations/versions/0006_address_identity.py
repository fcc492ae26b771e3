"""An address is one identity whatever its case: stored addresses become lower case.

Recipients and digests were recorded under the address as the configuration
spelled it, so `Ana@School.org` after `ana@school.org` was a second
recipient and a second digest the same day. From now on the code records
the lower-case form; this revision brings existing rows to it. Rows that
differ only by case are merged: one recipient keeps the latest unsubscribe
of them (an unsubscribe is never lost), one digest per day keeps the
delivery that got furthest (sent, then unknown, failed, skipped, retry,
claimed). A weekly health email's claim, recorded as
`health-report:Name <address>`, becomes `health-report:address`.

Data only: the schema does not change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# How far a delivery got; the furthest of a day's duplicates is kept.
_PROGRESS = {"sent": 6, "unknown": 5, "failed": 4, "skipped": 3, "retry": 2, "claimed": 1}
_HEALTH = "health-report:"


def _identity(address: str) -> str:
    if address.startswith(_HEALTH):
        return _HEALTH + parseaddr(address[len(_HEALTH) :])[1].strip().lower()
    return address.strip().lower()


def upgrade() -> None:
    conn = op.get_bind()
    _merge_recipients(conn)
    _merge_digests(conn)


def _merge_recipients(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT id, email, is_active, unsubscribed_at FROM recipients ORDER BY id")
    ).all()
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[_identity(row.email)].append(row)
    for email, members in groups.items():
        if len(members) == 1 and members[0].email == email:
            continue
        keep, *others = members
        unsubscribed = [m.unsubscribed_at for m in members if m.unsubscribed_at is not None]
        for other in others:
            conn.execute(
                sa.text("DELETE FROM recipient_follows WHERE recipient_id = :id"), {"id": other.id}
            )
            conn.execute(sa.text("DELETE FROM recipients WHERE id = :id"), {"id": other.id})
        conn.execute(
            sa.text(
                "UPDATE recipients SET email = :email, unsubscribed_at = :at, "
                "is_active = :active WHERE id = :id"
            ),
            {
                "email": email,
                "at": max(unsubscribed) if unsubscribed else None,
                "active": not unsubscribed and any(m.is_active for m in members),
                "id": keep.id,
            },
        )


def _merge_digests(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT d.id, d.recipient_email, d.local_day, v.status FROM digests d "
            "LEFT JOIN deliveries v ON v.digest_id = d.id ORDER BY d.id"
        )
    ).all()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(_identity(row.recipient_email), row.local_day)].append(row)
    for (email, _day), members in groups.items():
        if len(members) == 1 and members[0].recipient_email == email:
            continue
        keep = max(members, key=lambda m: (_PROGRESS.get(m.status or "", 0), -m.id))
        for other in members:
            if other.id != keep.id:
                conn.execute(
                    sa.text("DELETE FROM deliveries WHERE digest_id = :id"), {"id": other.id}
                )
                conn.execute(sa.text("DELETE FROM digests WHERE id = :id"), {"id": other.id})
        conn.execute(
            sa.text("UPDATE digests SET recipient_email = :email WHERE id = :id"),
            {"email": email, "id": keep.id},
        )

"""Deliveries carry a state and when to try again (retries with back-off).

`status` is one of claimed, retry, unknown, sent, failed (see
`aggregator.store.deliveries`); a delivery already sent before this
revision becomes "sent", any other "claimed".

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "deliveries",
        sa.Column("status", sa.String(10), nullable=False, server_default="claimed"),
    )
    op.add_column(
        "deliveries", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE deliveries SET status = 'sent' WHERE sent_at IS NOT NULL")

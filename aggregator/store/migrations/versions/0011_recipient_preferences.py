"""Teachers' own choices for their digest (the manage page), on top of config.toml.

A NULL column keeps the `[[recipients]]` entry's value; mute and boost add
to the entry's lists.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As `aggregator.domain.limits.STORED_ADDRESS_CHARS`.
ADDRESS_CHARS = 320


def upgrade() -> None:
    op.create_table(
        "recipient_preferences",
        sa.Column("email", sa.String(ADDRESS_CHARS), nullable=False),
        sa.Column("send_at", sa.String(5), nullable=True),
        sa.Column("days", sa.String(30), nullable=True),
        sa.Column("reading_minutes", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(100), nullable=True),
        sa.Column("mute", sa.JSON(), nullable=False),
        sa.Column("boost", sa.JSON(), nullable=False),
        sa.Column("paused_until", sa.String(10), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_recipient_preferences"),
    )

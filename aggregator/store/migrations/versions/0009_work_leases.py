"""Work leases: what each worker holds (a source it fetches, a task waiting in
the queue), each until it expires unless renewed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_leases",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_work_leases"),
    )
    op.create_index("ix_work_leases_expires_at", "work_leases", ["expires_at"])

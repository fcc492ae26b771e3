"""Admin accounts of the web pages, their sessions, and failed sign-ins.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL, INTEGER on SQLite (as `tables.BigId`).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ADDRESS = sa.String(320)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("email", ADDRESS, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_admins"),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("email", ADDRESS, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_admin_sessions"),
        sa.ForeignKeyConstraint(
            ["email"], ["admins.email"], name="fk_admin_sessions_email_admins", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_admin_sessions_email", "admin_sessions", ["email"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account", ADDRESS, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index(
        "ix_sign_in_failures_account_failed_at", "sign_in_failures", ["account", "failed_at"]
    )
    op.create_index(
        "ix_sign_in_failures_address_failed_at", "sign_in_failures", ["address", "failed_at"]
    )

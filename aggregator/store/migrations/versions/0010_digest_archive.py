"""The archive: each digest as it was sent (subject, HTML and text).

Written in the transaction that records that a digest may have reached its
recipient, so every "view in browser" link a teacher can hold has its page.
Digests sent before this revision have no copy.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL, INTEGER on SQLite (as `tables.BigId`).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "digest_archive",
        sa.Column("digest_id", BIG_ID, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", name="pk_digest_archive"),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name="fk_digest_archive_digest_id_digests",
            ondelete="CASCADE",
        ),
    )

"""Which posts each digest showed, so that pruning keeps a sent digest's posts.

`[storage] keep_days` prunes old posts; those a digest showed that was sent
(or may have been: the server may have accepted it) stay for the archive.
Digests sent before this revision recorded nothing: their posts age out
like any other.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL, INTEGER on SQLite (as `tables.BigId`).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "digest_posts",
        sa.Column("digest_id", BIG_ID, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", "post_id", name="pk_digest_posts"),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name="fk_digest_posts_digest_id_digests",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_digest_posts_post_id_posts", ondelete="CASCADE"
        ),
    )
    # Pruning asks, for each old post, whether a digest showed it.
    op.create_index("ix_digest_posts_post_id", "digest_posts", ["post_id"])

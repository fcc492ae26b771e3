"""Initial schema: sources, posts, links, recipients, digests, deliveries.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Revisions are append-only: never edit one that has been released; add a new
one. The schema is spelled out here instead of importing aggregator.store.tables,
whose models describe the latest revision, not this one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same spelling as tables.BigId: 64-bit on PostgreSQL, INTEGER (rowid) on SQLite.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Aware UTC; storage's UTCDateTime stores naive UTC on SQLite.
UTC = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, primary_key=True)


def _create_sources() -> None:
    op.create_table(
        "sources",
        _id(),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("deactivated_reason", sa.Text(), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("moved_url", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_success_at", UTC, nullable=True),
        sa.Column("last_new_post_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("wait_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("key", name="uq_sources_key"),
    )


def _create_posts() -> None:
    op.create_table(
        "posts",
        _id(),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("network", sa.String(50), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("fetched_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("quotes", sa.Integer(), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.ForeignKeyConstraint(
            ["source_key"], ["sources.key"], name="fk_posts_source_key_sources"
        ),
        sa.UniqueConstraint("source_key", "external_id", name="uq_posts_source_key_external_id"),
    )
    op.create_index("ix_posts_source_key_published_at", "posts", ["source_key", "published_at"])
    op.create_index("ix_posts_published_at", "posts", ["published_at"])
    op.create_table(
        "post_links",
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "position", name="pk_post_links"),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name="fk_post_links_post_id_posts",
            ondelete="CASCADE",
        ),
    )


def _create_recipients() -> None:
    op.create_table(
        "recipients",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(100), nullable=False),
        sa.Column("send_at", sa.String(5), nullable=False),
        sa.Column("reading_minutes", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("unsubscribed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recipients"),
        sa.UniqueConstraint("email", name="uq_recipients_email"),
    )
    op.create_table(
        "recipient_follows",
        sa.Column("recipient_id", BIG_ID, nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("recipient_id", "source_key", name="pk_recipient_follows"),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name="fk_recipient_follows_recipient_id_recipients",
            ondelete="CASCADE",
        ),
    )


def _create_digests() -> None:
    op.create_table(
        "digests",
        _id(),
        sa.Column("recipient_email", sa.String(320), nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("built_at", UTC, nullable=False),
        sa.Column("post_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.UniqueConstraint(
            "recipient_email", "local_day", name="uq_digests_recipient_email_local_day"
        ),
    )
    op.create_table(
        "deliveries",
        _id(),
        sa.Column("digest_id", BIG_ID, nullable=False),
        sa.Column("claimed_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name="fk_deliveries_digest_id_digests",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("digest_id", name="uq_deliveries_digest_id"),
    )


def upgrade() -> None:
    """Create every table of the first release."""
    _create_sources()
    _create_posts()
    _create_recipients()
    _create_digests()


def downgrade() -> None:
    """Drop every table (development only: it deletes all data)."""
    for table in (
        "deliveries",
        "digests",
        "recipient_follows",
        "recipients",
        "post_links",
        "posts",
        "sources",
    ):
        op.drop_table(table)

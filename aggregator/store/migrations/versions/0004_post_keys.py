"""Posts keep their keys: canonical URL and story keys.

They are worked out once, when a post is stored (`aggregator.domain.story.keys_of`),
instead of for every digest that shows the post. `posts.canonical_url`,
so far the URL a source declared canonical, becomes the canonical URL of
the post's page; the story keys get a table of their own, indexed by key.
The posts already stored are keyed here, in batches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from aggregator.domain.story import keys_of

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Posts read, keyed and written back at a time: bounded memory, and well
# under either database's limit of parameters per statement.
BATCH = 500

_posts = sa.table(
    "posts",
    sa.column("id", BIG_ID),
    sa.column("url", sa.Text()),
    sa.column("canonical_url", sa.Text()),
)
_links = sa.table(
    "post_links",
    sa.column("post_id", BIG_ID),
    sa.column("position", sa.Integer()),
    sa.column("url", sa.Text()),
)
_keys = sa.table(
    "post_story_keys",
    sa.column("post_id", BIG_ID),
    sa.column("position", sa.Integer()),
    sa.column("key", sa.Text()),
)


def upgrade() -> None:
    op.create_table(
        "post_story_keys",
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "position", name="pk_post_story_keys"),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name="fk_post_story_keys_post_id_posts",
            ondelete="CASCADE",
        ),
    )
    # Hash on PostgreSQL: a B-tree entry cannot hold a very long URL.
    op.create_index("ix_post_story_keys_key", "post_story_keys", ["key"], postgresql_using="hash")
    conn = op.get_bind()
    after = None
    while True:
        query = sa.select(_posts).order_by(_posts.c.id).limit(BATCH)
        if after is not None:
            query = query.where(_posts.c.id > after)
        rows = conn.execute(query).all()
        if not rows:
            break
        _key_batch(conn, rows)
        after = rows[-1].id


def _key_batch(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> None:
    """Work out and store the keys of one batch of stored posts."""
    links: dict[int, list[str]] = {}
    found = (
        sa.select(_links.c.post_id, _links.c.url)
        .where(_links.c.post_id.in_([row.id for row in rows]))
        .order_by(_links.c.post_id, _links.c.position)
    )
    for post_id, url in conn.execute(found):
        links.setdefault(post_id, []).append(url)
    updates, key_rows = [], []
    for row in rows:
        keys = keys_of(url=row.url, declared_url=row.canonical_url, links=links.get(row.id, ()))
        updates.append({"post_id": row.id, "new_canonical_url": keys.canonical_url})
        key_rows.extend(
            {"post_id": row.id, "position": position, "key": key}
            for position, key in enumerate(keys.story_keys)
        )
    conn.execute(
        sa.update(_posts)
        .where(_posts.c.id == sa.bindparam("post_id"))
        .values(canonical_url=sa.bindparam("new_canonical_url")),
        updates,
    )
    if key_rows:
        conn.execute(sa.insert(_keys), key_rows)

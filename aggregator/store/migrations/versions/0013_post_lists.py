"""A post's links and story keys become JSON columns of `posts`, like its hashtags.

They are ordered lists only ever read with their post, and their rows in
`post_links` and `post_story_keys` (with the index by key, which no query
used) were most of the cost of storing a fetch. The lists already stored
are copied into the new columns in batches of posts, then the two tables go.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Posts copied at a time: bounded memory, and well under either database's
# limit of parameters per statement.
BATCH = 500

_posts = sa.table(
    "posts",
    sa.column("id", BIG_ID),
    sa.column("links", sa.JSON()),
    sa.column("story_keys", sa.JSON()),
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
    # A constant default lets SQLite add a NOT NULL column in place, and
    # gives every post already stored an empty list until it is copied.
    for name in ("links", "story_keys"):
        op.add_column("posts", sa.Column(name, sa.JSON(), nullable=False, server_default="[]"))
    conn = op.get_bind()
    after = None
    while True:
        query = sa.select(_posts.c.id).order_by(_posts.c.id).limit(BATCH)
        if after is not None:
            query = query.where(_posts.c.id > after)
        ids = list(conn.scalars(query))
        if not ids:
            break
        _copy_batch(conn, ids)
        after = ids[-1]
    op.drop_index("ix_post_story_keys_key", table_name="post_story_keys")
    op.drop_table("post_story_keys")
    op.drop_table("post_links")


def _copy_batch(conn: sa.Connection, ids: list[int]) -> None:
    """Copy the links and story keys of the posts `ids`, in their order."""
    links = _lists(conn, _links.c.post_id, _links.c.position, _links.c.url, ids)
    keys = _lists(conn, _keys.c.post_id, _keys.c.position, _keys.c.key, ids)
    # Posts with neither keep the default: no write for them.
    updates = [
        {"post_id": post_id, "new_links": links.get(post_id, []), "new_keys": keys.get(post_id, [])}
        for post_id in ids
        if post_id in links or post_id in keys
    ]
    if updates:
        conn.execute(
            sa.update(_posts)
            .where(_posts.c.id == sa.bindparam("post_id"))
            .values(
                links=sa.bindparam("new_links", type_=sa.JSON()),
                story_keys=sa.bindparam("new_keys", type_=sa.JSON()),
            ),
            updates,
        )


def _lists(
    conn: sa.Connection,
    post_id: sa.ColumnClause[int],
    position: sa.ColumnClause[int],
    value: sa.ColumnClause[str],
    ids: list[int],
) -> dict[int, list[str]]:
    """The values of one side table for the posts `ids`, by post, in position order."""
    found: dict[int, list[str]] = {}
    stmt = sa.select(post_id, value).where(post_id.in_(ids)).order_by(post_id, position)
    for row_post_id, row_value in conn.execute(stmt):
        found.setdefault(row_post_id, []).append(row_value)
    return found

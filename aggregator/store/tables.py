"""The database side of the store: typed ORM models and the mapping of post rows.

Only `aggregator/store/` and the Alembic environment import this module; no
row object leaves the store. The tables here must match what
`aggregator/store/migrations/versions/` builds: a test compares the two, so
a change here comes with a new, append-only revision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aggregator.domain.delivery import DeliveryState
from aggregator.domain.limits import LEASE_KEY_CHARS, SOURCE_KEY_CHARS, STORED_ADDRESS_CHARS
from aggregator.domain.post import Engagement, Post

# Named constraints let later revisions alter them, SQLite batch mode included.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL (a district stores many posts); SQLite's INTEGER
# PRIMARY KEY is already 64-bit and must be spelled INTEGER to autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps the offset (timestamptz); SQLite keeps none, so values
    are stored as naive UTC and given `timezone.utc` back when read.
    Raises `ValueError` for a naive datetime: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to storage")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# -- schema ------------------------------------------------------------------


class Base(DeclarativeBase):
    """Declarative base holding the shared metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class SourceRow(Base):
    """A configured source and what ingest remembers about fetching it."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(SOURCE_KEY_CHARS), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    deactivated_reason: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    moved_url: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_post_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    wait_until: Mapped[datetime | None]


class PostRow(Base):
    """One stored post; `(source_key, external_id)` identifies it."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source_key", "external_id"),
        Index("ix_posts_source_key_published_at", "source_key", "published_at"),
        Index("ix_posts_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(SOURCE_KEY_CHARS), ForeignKey("sources.key"))
    external_id: Mapped[str] = mapped_column(Text)
    network: Mapped[str] = mapped_column(String(50))
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(Text)
    author_url: Mapped[str] = mapped_column(Text, default="", server_default="")
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    likes: Mapped[int] = mapped_column(default=0)
    reposts: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    quotes: Mapped[int] = mapped_column(default=0)
    media_url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # In the order the post gives them; read only with their post, so a
    # list in the row rather than a row each (see revision 0013).
    links: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    story_keys: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    language: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    repost_of: Mapped[str] = mapped_column(Text, default="", server_default="")


class RecipientRow(Base):
    """A configured recipient; `unsubscribed_at` outlives config syncs."""

    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS), unique=True)
    name: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(100))
    send_at: Mapped[str] = mapped_column(String(5))
    reading_minutes: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True)
    unsubscribed_at: Mapped[datetime | None]


class RecipientFollowRow(Base):
    """A source key a recipient follows. No longer written nor read: follows
    come from the configuration. Kept while the schema has the table."""

    __tablename__ = "recipient_follows"

    recipient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True
    )
    source_key: Mapped[str] = mapped_column(String(SOURCE_KEY_CHARS), primary_key=True)


class DigestRow(Base):
    """A digest built for one recipient's local day (YYYY-MM-DD)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("recipient_email", "local_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_email: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS))
    local_day: Mapped[str] = mapped_column(String(10))
    built_at: Mapped[datetime]
    post_count: Mapped[int] = mapped_column(default=0)


class DeliveryRow(Base):
    """The claim to send a digest, made before SMTP so it is never sent twice."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("digests.id", ondelete="CASCADE"), unique=True
    )
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(Text)
    # A `DeliveryState` value (aggregator.domain.delivery).
    status: Mapped[str] = mapped_column(String(10), server_default=DeliveryState.CLAIMED.value)
    # A claim's lease, or when a failed attempt may be retried.
    next_attempt_at: Mapped[datetime | None]


class WorkLeaseRow(Base):
    """A lease on a piece of work (`aggregator.domain.lease`): a source being
    fetched, a task waiting in the queue. Deleted when released."""

    __tablename__ = "work_leases"

    key: Mapped[str] = mapped_column(String(LEASE_KEY_CHARS), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    taken_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    abandoned: Mapped[int] = mapped_column(default=0)


class DigestPostRow(Base):
    """A post a digest showed, in the order shown: a story's lead (an entry or
    a headline), and the story's other posts, whose sharers it names.

    Written when the digest may have been sent (`mark_unknown`); pruning
    keeps the posts of sent digests for the archive.
    """

    __tablename__ = "digest_posts"
    __table_args__ = (Index("ix_digest_posts_post_id", "post_id"),)

    digest_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]


class AdminRow(Base):
    """An admin account of the web pages: the address and a slow salted hash."""

    __tablename__ = "admins"

    email: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AdminSessionRow(Base):
    """A signed-in admin's session; the cookie holds the token, the row its hash."""

    __tablename__ = "admin_sessions"
    __table_args__ = (Index("ix_admin_sessions_email", "email"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(
        String(STORED_ADDRESS_CHARS), ForeignKey("admins.email", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SignInFailureRow(Base):
    """A failed sign-in: by account and by client address, to refuse guessing."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_account_failed_at", "account", "failed_at"),
        Index("ix_sign_in_failures_address_failed_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime]


class DigestArchiveRow(Base):
    """A digest as it was sent: its subject, HTML and text.

    Written with `mark_unknown` (the digest may have arrived from then on);
    pruned after `[storage] keep_days` with `prune_archive`.
    """

    __tablename__ = "digest_archive"

    digest_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


class PreferencesRow(Base):
    """A teacher's own choices (the manage page); NULL keeps config.toml's value."""

    __tablename__ = "recipient_preferences"

    email: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS), primary_key=True)
    send_at: Mapped[str | None] = mapped_column(String(5))
    # Weekdays as "mon,tue,...": "" for none chosen, NULL for config.toml's.
    days: Mapped[str | None] = mapped_column(String(30))
    reading_minutes: Mapped[int | None]
    timezone: Mapped[str | None] = mapped_column(String(100))
    mute: Mapped[list[str]] = mapped_column(JSON, default=list)
    boost: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused_until: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime]


class FeedbackRow(Base):
    """A teacher leaning towards (1) or away from (-1) a source, author or topic."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("recipient_email", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_email: Mapped[str] = mapped_column(String(STORED_ADDRESS_CHARS))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))
    direction: Mapped[int]
    created_at: Mapped[datetime]


# -- mapping between models and rows -------------------------------------------


def post_from_row(row: PostRow | Row[Any]) -> Post:
    """The `Post` a stored row holds, with the links and story keys stored with
    it: from a `PostRow` or a row of the posts table's columns."""
    return Post(
        source_key=row.source_key,
        external_id=row.external_id,
        network=row.network,
        url=row.url,
        author=row.author,
        author_url=row.author_url,
        title=row.title,
        text=row.text,
        html=row.html,
        published_at=row.published_at,
        engagement=Engagement(
            likes=row.likes, reposts=row.reposts, replies=row.replies, quotes=row.quotes
        ),
        media_url=row.media_url,
        media_type=row.media_type,
        image_url=row.image_url,
        canonical_url=row.canonical_url,
        hashtags=tuple(row.hashtags),
        language=row.language,
        links=tuple(row.links),
        content_hash=row.content_hash,
        story_keys=tuple(row.story_keys),
        repost_of=row.repost_of,
    )

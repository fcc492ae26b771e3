"""The data that crosses module lines: posts, sources, recipients, fetch results.

Connectors produce `Post`, storage stores and returns `Post`, digests rank and
render `Post` (STYLE.md §2). No API JSON, feedparser dict or ORM row crosses a
module line. Every datetime here is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime (the default `Clock`)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Engagement:
    """What a network counts about a post; 0 where it does not count it."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def total(self) -> int:
        """All interactions added up (a crude, network-local signal)."""
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True, slots=True)
class Post:
    """One normalised item from any network.

    `html` is sanitised at ingest and is the only HTML a template trusts;
    `text` is plain text for ranking, reading time and the text digest.
    `content_hash` fingerprints what the source sent, so an unchanged item
    costs no write. `author` is the name a reader sees (with the handle on
    social networks); `author_url` their profile page, where there is one.
    """

    source_key: str
    external_id: str
    network: str
    url: str
    author: str
    title: str | None
    text: str
    html: str
    published_at: datetime
    engagement: Engagement = Engagement()
    media_url: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    canonical_url: str = ""
    hashtags: tuple[str, ...] = ()
    language: str | None = None
    links: tuple[str, ...] = ()
    content_hash: str = ""
    author_url: str = ""


SourceKind = Literal[
    "rss",
    "twitter_search",
    "twitter_user",
    "twitter_list",
    "facebook_group",
    "facebook_page",
    "mastodon_tag",
    "bluesky_search",
    "email_inbox",
]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A `[[sources]]` entry of the configuration.

    `options` holds the kind-specific keys (`url`, `query`, `group_id`,
    `instance`, `tag`...) exactly as written in the file.
    """

    key: str
    kind: str
    name: str = ""
    options: tuple[tuple[str, str], ...] = ()
    interval_minutes: int | None = None

    def option(self, name: str, default: str = "") -> str:
        """A kind-specific option, or `default` when the file does not set it."""
        return dict(self.options).get(name, default)

    @property
    def title(self) -> str:
        """The name shown to people: `name` if set, else the key."""
        return self.name or self.key


@dataclass(frozen=True, slots=True)
class RecipientConfig:
    """A `[[recipients]]` entry: who gets a digest, when, of what."""

    email: str
    name: str = ""
    timezone: str = "UTC"
    send_at: str = "06:30"
    reading_minutes: int = 5
    follow: tuple[str, ...] = ()
    mute: tuple[str, ...] = ()
    boost: tuple[str, ...] = ()
    days: tuple[str, ...] = ()
    """Weekdays a digest goes out ("mon".."sun"); empty means every day."""


@dataclass(frozen=True, slots=True)
class FetchState:
    """What ingest remembers of a source between fetches, handed to its connector.

    `url` is set when a feed answered with a permanent redirect: the
    connector fetches there instead of the configured URL.
    """

    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch of one source produced.

    `not_modified` means the network said nothing changed (HTTP 304): there
    are no posts and the stored state stays. `moved_to` is the new URL after
    a permanent redirect (301/308), to be remembered. `problem` says what
    went wrong in a partly successful fetch (a page that failed, errors the
    network sent beside the data): the posts are kept, and the problem is
    recorded on the source as its last error.
    """

    posts: tuple[Post, ...] = ()
    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    moved_to: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """The result of fetching one source, as `pln fetch` reports it.

    A failure is data: `error` holds the one-line message recorded on the
    source, and the other sources go on. `problem` is set when the fetch
    partly failed but what was valid was stored.
    """

    source_key: str
    new_posts: int = 0
    updated_posts: int = 0
    error: str | None = None
    skipped: str | None = None
    not_modified: bool = False
    problem: str | None = None

    @property
    def status(self) -> str:
        """One word for the summary table."""
        if self.error:
            return "error"
        if self.skipped:
            return "skipped"
        if self.problem:
            return "partial"
        if self.not_modified:
            return "unchanged"
        return "ok"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source's fetch state as stored, for `pln status` and scheduling.

    `wait_until` is set when the network itself asked us to wait (rate limit,
    Retry-After): until then even `pln fetch` skips the source.
    """

    key: str
    kind: str
    is_active: bool
    posts_stored: int = 0
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_attempt_at: datetime | None = None
    wait_until: datetime | None = None
    state: FetchState = field(default_factory=FetchState)
    last_new_post_at: datetime | None = None
    """When a fetch last stored a post not seen before (staleness)."""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A digest recorded for a recipient's local day (built, and maybe sent)."""

    recipient_email: str
    local_day: str
    built_at: datetime
    sent_at: datetime | None = None
    post_count: int = 0

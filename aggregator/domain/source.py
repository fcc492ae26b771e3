"""Sources: a `[[sources]]` entry and the options a kind takes, what one fetch
brings, what is remembered between fetches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from aggregator.domain.post import Post


@dataclass(frozen=True, slots=True)
class Option:
    """One kind-specific `[[sources]]` option.

    `normalize` checks a text value and returns it in canonical form, or
    raises ValueError with the message shown to the admin. A "count" is a
    whole number of at least 1, kept as digits. `help` says what to write,
    next to the field of the admin pages' form.
    """

    type: Literal["text", "port", "count", "bool", "env"] = "text"
    required: bool = False
    default: str | None = None
    normalize: Callable[[str], str] | None = None
    help: str = ""


class KindSpec(Protocol):
    """What the configuration must know of a source kind to read its entries.

    The configuration cannot know the kinds itself (they are the connectors'
    business): whoever loads it passes a mapping from kind to `KindSpec`.
    `options` are the kind's own `[[sources]]` keys, in the order they are
    checked; `section` names the configuration table holding the token that
    every source of the kind's network is fetched with (`"twitter"` for
    `[twitter] bearer_token_env`), or is None when sources name their own.
    """

    @property
    def options(self) -> Mapping[str, Option]:
        """The kind's own options, by name."""
        ...

    @property
    def section(self) -> str | None:
        """The configuration table of the network's token, if it has one."""
        ...


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A `[[sources]]` entry of the configuration.

    `options` holds the kind-specific keys (`url`, `query`, `group_id`,
    `instance`, `tag`...) exactly as written in the file. A `paused` source
    is not fetched; what it brought stays.
    """

    key: str
    kind: str
    name: str = ""
    options: tuple[tuple[str, str], ...] = ()
    interval_minutes: int | None = None
    paused: bool = False

    def option(self, name: str, default: str = "") -> str:
        """A kind-specific option, or `default` when the file does not set it."""
        return dict(self.options).get(name, default)

    @property
    def title(self) -> str:
        """The name shown to people: `name` if set, else the key."""
        return self.name or self.key


@dataclass(frozen=True, slots=True)
class FetchState:
    """What ingest remembers of a source between fetches, handed to its connector.

    `url` is set when a feed answered with a permanent redirect: the
    connector fetches there instead of the configured URL. `is_first_fetch`
    is set by ingest until a fetch of the source has succeeded: what a
    source serves then is its back catalogue, not news.
    """

    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    url: str | None = None
    is_first_fetch: bool = False


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

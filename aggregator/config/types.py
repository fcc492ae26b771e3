"""The configuration as the rest of the program sees it: frozen dataclasses.

`aggregator.config.load` builds them from `config.toml`; every other layer
only reads them. Defaults here are the defaults of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

from aggregator.config.schedule import CalendarConfig, Holiday, ScheduleConfig
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.secret import Secret
from aggregator.domain.source import SourceConfig

__all__ = [
    "CalendarConfig",
    "Config",
    "DatabaseConfig",
    "DigestConfig",
    "EmailConfig",
    "FacebookConfig",
    "FetchConfig",
    "Holiday",
    "QueueConfig",
    "ScheduleConfig",
    "Secret",
    "StorageConfig",
    "TwitterConfig",
    "WebConfig",
]


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """`[database]`: where posts and state are kept."""

    url: str = "sqlite:///pln.db"


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """`[storage]`: how long posts are kept."""

    keep_days: int = 30
    """Posts older than this many days are pruned, except those a sent digest
    showed (kept for the archive)."""


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """`[email]`: how digests are sent."""

    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password: Secret | None = None
    from_address: str = "PLN Digest <digest@localhost>"
    backend: str = "smtp"
    """"smtp", or "file": each message is written as an .eml file to `folder`."""
    folder: str = ""
    admin: str = ""
    """The admin's address: the health email, and unsubscribe requests by mail."""
    unsubscribe_secret: Secret | None = None
    public_url: str = ""
    """Base URL of the unsubscribe link (https://...); "" for no link."""
    resubscribe: tuple[tuple[str, date], ...] = ()
    """(address, day): an unsubscribe made on or before that day is lifted."""
    allow_plaintext_auth: bool = False
    """Log in without TLS (security = "none") to a host other than this machine."""


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """`[fetch]`: limits for every network request."""

    timeout_seconds: float = 20.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    workers: int = 16
    max_per_host: int = 4
    """Requests at once to one host, across every worker of the fleet."""
    allow_private: tuple[str, ...] = ()
    user_agent: str = "PLN-Digest/0.1 (+https://github.com/pln-digest/pln-digest)"


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """`[digest]`: defaults for building digests."""

    max_window_hours: int = 24
    words_per_minute: int = 238
    skip_empty: bool = False


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """`[queue]`: the broker of the Celery workers; absent, everything runs in one process."""

    broker_url: str = "redis://127.0.0.1:6379/0"
    """As written in the file: never with a password (see `password`)."""
    password: Secret | None = None
    """The broker's password, from `password_env`; put into the URL only to connect."""
    lease_seconds: int = 60
    """How long a claim (a digest being sent, a source being fetched) is held without
    its worker renewing it; a dead worker's work is taken over after this."""
    tick_seconds: int = 20
    """How often `pln run` works out what is due and enqueues it."""
    requeue_seconds: int = 600
    """How long an enqueued task may wait before it is enqueued again, in case the
    broker lost it (a restarted Redis keeps nothing)."""
    task_queue: str = "pln"
    """The broker's queue: deployments sharing one broker each need their own."""
    redis_url: str = ""
    """The Redis keeping the fleet's shared limits (per-host slots, read budgets,
    logins); "" for the broker's own when it is Redis."""
    metrics_listen: str = ""
    """HOST:PORT where each worker answers Prometheus's scrapes; "" for none."""

    def limits_url(self) -> str:
        """Where the fleet's shared limits are kept: `redis_url`, else the broker
        when it is Redis (password included: for connecting only), else ""."""
        if self.redis_url:
            return self.redis_url
        return self.url() if self.broker_url.startswith(("redis://", "rediss://")) else ""

    def url(self) -> str:
        """The broker URL with the password in it: for connecting only, never for a log."""
        if self.password is None:
            return self.broker_url
        scheme, sep, rest = self.broker_url.partition("://")
        userinfo, at, hostpart = rest.rpartition("@")
        user = userinfo if at else ""
        secret = quote(self.password.reveal(), safe="")
        return f"{scheme}{sep}{user}:{secret}@{hostpart}"


@dataclass(frozen=True, slots=True)
class TwitterConfig:
    """`[twitter]`: the app-only bearer token."""

    bearer_token: Secret | None = None


@dataclass(frozen=True, slots=True)
class FacebookConfig:
    """`[facebook]`: the Graph API token and version."""

    access_token: Secret | None = None
    graph_version: str = "v24.0"


@dataclass(frozen=True, slots=True)
class WebConfig:
    """`[web]`: the admin's and teachers' pages (`pln serve`)."""

    listen: str = ""
    """HOST:PORT `pln serve` listens on; "" means 127.0.0.1:8080, and that
    `pln run` serves no pages (it does when `listen` is set)."""
    public_url: str = ""
    """How teachers reach the pages; links in emails start here. Filled from
    `[email] public_url` when `[web]` has none."""
    secret: Secret | None = None
    """Signs sessions and every link in an email; required to serve."""
    secret_env: str = ""
    """The environment variable `secret` comes from (named in error messages)."""

    @property
    def is_https(self) -> bool:
        """Whether pages are reached over https (cookies are then Secure)."""
        return self.public_url.startswith("https://")


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, validated; passed down explicitly."""

    path: str = ""
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    twitter: TwitterConfig = field(default_factory=TwitterConfig)
    facebook: FacebookConfig = field(default_factory=FacebookConfig)
    web: WebConfig = field(default_factory=WebConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    queue: QueueConfig | None = None
    """`[queue]`: set, `pln run` enqueues and `pln worker` processes do the work."""
    sources: tuple[SourceConfig, ...] = ()
    recipients: tuple[RecipientConfig, ...] = ()
    secrets: tuple[Secret, ...] = ()
    """The secrets named by `[[sources]]` `*_env` options (see `secret`)."""

    def source(self, key: str) -> SourceConfig | None:
        """The source with this key, or None."""
        return next((s for s in self.sources if s.key == key), None)

    def recipient(self, email: str) -> RecipientConfig | None:
        """The recipient with this address (case-insensitive), or None."""
        wanted = email.strip().lower()
        return next((r for r in self.recipients if r.email.lower() == wanted), None)

    def secret(self, env_name: str) -> Secret | None:
        """The secret a source option names, e.g. `secret(source.option("token_env"))`."""
        return next((s for s in self.secrets if s.env_name == env_name), None)

    def section_token(self, section: str) -> Secret | None:
        """The token a network's table holds (`[twitter]`, `[facebook]`), or None."""
        tokens = {"twitter": self.twitter.bearer_token, "facebook": self.facebook.access_token}
        return tokens.get(section)

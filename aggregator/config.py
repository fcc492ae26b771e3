"""Loading and validating the TOML configuration (SPEC.md "Configuration").

`load_config(path) -> Config` gathers every problem, each with its line, before
failing with one `ConfigError`. Secrets are read only through `*_env` keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aggregator.models import RecipientConfig, SourceConfig


class Secret:
    """A secret read from the environment; its repr never shows the value."""

    __slots__ = ("env_name", "_value")

    def __init__(self, env_name: str, value: str) -> None:
        self.env_name = env_name
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call only where it is sent to its server."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.env_name}=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.env_name, self._value) == (
            other.env_name,
            other._value,
        )

    def __hash__(self) -> int:
        return hash(self.env_name)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """`[database]`: where posts and state are kept."""

    url: str = "sqlite:///pln.db"


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """`[email]`: how digests are sent."""

    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password: Secret | None = None
    from_address: str = "PLN Digest <digest@localhost>"


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """`[fetch]`: limits for every network request."""

    timeout_seconds: float = 20.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    workers: int = 16
    allow_private: tuple[str, ...] = ()
    user_agent: str = "PLN-Digest/0.1 (+https://github.com/pln-digest/pln-digest)"


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """`[digest]`: defaults for building digests."""

    max_window_hours: int = 24
    words_per_minute: int = 238


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
class Config:
    """The whole configuration, validated; passed down explicitly."""

    path: str = ""
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    twitter: TwitterConfig = field(default_factory=TwitterConfig)
    facebook: FacebookConfig = field(default_factory=FacebookConfig)
    sources: tuple[SourceConfig, ...] = ()
    recipients: tuple[RecipientConfig, ...] = ()

    def source(self, key: str) -> SourceConfig | None:
        """The source with this key, or None."""
        return next((s for s in self.sources if s.key == key), None)

    def recipient(self, email: str) -> RecipientConfig | None:
        """The recipient with this address (case-insensitive), or None."""
        wanted = email.strip().lower()
        return next((r for r in self.recipients if r.email.lower() == wanted), None)

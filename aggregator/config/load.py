"""Loading and validating the TOML configuration (SPEC.md "Configuration").

`load_config(path) -> Config` gathers every problem, each with its line, before
failing with one `ConfigError`; `format_problems` turns it into the lines
`pln check` prints. Secrets are read only through `*_env` keys, into `Secret`.
Reading typed values and mapping keys to lines is `config_read`'s job; the
`[[sources]]` and `[[recipients]]` entries are `config_entries`'.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.config.entries import (
    SOURCE_KINDS,
    SOURCE_OPTIONS,
    EnvNeed,
    read_recipients,
    read_sources,
)
from aggregator.config.read import (
    LineMap,
    Report,
    Table,
    check_private_entry,
    is_address,
    is_hostname,
)
from aggregator.config.schedule import (
    CalendarConfig,
    Holiday,
    ScheduleConfig,
    read_calendar,
    read_schedule,
)
from aggregator.domain.errors import ConfigError, Problem
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.secret import Secret
from aggregator.domain.source import SourceConfig

__all__ = [
    "SOURCE_KINDS",
    "SOURCE_OPTIONS",
    "CalendarConfig",
    "Config",
    "DatabaseConfig",
    "DigestConfig",
    "EmailConfig",
    "FacebookConfig",
    "FetchConfig",
    "Holiday",
    "ScheduleConfig",
    "Secret",
    "TwitterConfig",
    "format_problems",
    "load_config",
    "parse_config",
]


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
    skip_empty: bool = False


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
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
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


_TOP_KEYS = (
    "database",
    "email",
    "fetch",
    "digest",
    "twitter",
    "facebook",
    "sources",
    "recipients",
    "schedule",
    "calendar",
)
_EMAIL_KEYS = (
    "smtp_host",
    "smtp_port",
    "security",
    "username",
    "password_env",
    "from",
    "backend",
    "folder",
    "admin",
    "unsubscribe_secret_env",
    "public_url",
    "resubscribe",
)
_BACKENDS = ("smtp", "file")
# An HMAC key shorter than this is guessable; token_urlsafe(32) gives 43 characters.
_MIN_SECRET_CHARS = 16
_SECURITY = ("starttls", "ssl", "none")
_DB_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GRAPH_VERSION = re.compile(r"^v\d+\.\d+$")
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")
_TOML_HINTS = {
    "Cannot overwrite": " (is a key set twice?)",
    "Cannot declare": " (is a table written twice?)",
}
_FETCH_KEYS = (
    "timeout_seconds",
    "max_body_bytes",
    "max_redirects",
    "workers",
    "allow_private",
    "user_agent",
)


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file at `path`.

    `environ` (default `os.environ`) supplies the secrets that `*_env` keys
    name. Raises ConfigError listing every problem with its line, or one
    problem when the file is missing, unreadable or not TOML.
    """
    shown = os.fspath(path)
    try:
        data = Path(shown).read_bytes()
    except FileNotFoundError as exc:
        message = f"not found: copy config.example.toml to {shown} and edit it"
        raise _file_error(shown, message) from exc
    except OSError as exc:
        raise _file_error(shown, f"cannot be read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")  # -sig: Notepad saves UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise _file_error(shown, f"is not UTF-8 text (bad byte at offset {exc.start})") from exc
    return parse_config(text, shown, environ)


def _file_error(shown: str, message: str) -> ConfigError:
    # The path is the problem's key, so the one line reads "config.toml: not found: ...".
    return ConfigError([Problem(None, shown, message)])


def parse_config(
    text: str, path: str | os.PathLike[str] = "", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate configuration `text`; `path` names the file it came from.

    A relative SQLite path is resolved against `path`'s folder (the current
    folder when `path` is empty). Raises ConfigError with every problem,
    sorted by line.
    """
    shown = os.fspath(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(exc, text)], shown) from exc
    report = Report(LineMap(text))
    absolute = os.path.abspath(shown) if shown else ""
    environ = os.environ if environ is None else environ
    config = _read_config(Table(document, (), report), absolute, environ)
    if report.problems:
        report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ConfigError(report.problems, shown)
    return config


def _syntax_problem(exc: tomllib.TOMLDecodeError, text: str) -> Problem:
    message = str(exc)
    position = _TOML_POSITION.search(message)
    line = int(position.group(1)) if position and position.group(1) else text.count("\n") + 1
    message = _TOML_POSITION.sub("", message)
    hint = next((h for start, h in _TOML_HINTS.items() if message.startswith(start)), "")
    return Problem(line, "invalid TOML", message[:1].lower() + message[1:] + hint)


def format_problems(error: ConfigError) -> list[str]:
    """One line per problem, like `config.toml:12: sources[3].url: not an http(s) URL`."""
    lines = []
    for problem in error.problems:
        where = error.path
        if problem.line:
            where = f"{error.path}:{problem.line}" if error.path else f"line {problem.line}"
        lines.append(": ".join(part for part in (where, problem.key, problem.message) if part))
    return lines


@dataclass(frozen=True, slots=True)
class _Use:
    """Why a secret is needed now, and the line to blame when its key is absent."""

    reason: str
    line: int | None = None


def _read_config(root: Table, path: str, environ: Mapping[str, str]) -> Config:
    root.check_keys(_TOP_KEYS)
    sources, needs = read_sources(root.tables("sources"))
    recipients = read_recipients(root.tables("recipients"), {s.key for s in sources if s.key})
    twitter = root.table("twitter")
    twitter.check_keys(("bearer_token_env",))
    twitter_use = _first_use(root, sources, "twitter_")
    bearer = _read_secret(twitter, "bearer_token_env", environ, twitter_use)
    return Config(
        path=path,
        database=_read_database(root.table("database"), os.path.dirname(path) or os.getcwd()),
        email=_read_email(root.table("email"), environ, os.path.dirname(path) or os.getcwd()),
        fetch=_read_fetch(root.table("fetch")),
        digest=_read_digest(root.table("digest")),
        twitter=TwitterConfig(bearer_token=bearer),
        facebook=_read_facebook(
            root.table("facebook"), environ, _first_use(root, sources, "facebook_")
        ),
        schedule=read_schedule(root.table("schedule")),
        calendar=read_calendar(root.table("calendar")),
        sources=sources,
        recipients=recipients,
        secrets=_resolve_needs(root.report, needs, environ),
    )


def _first_use(root: Table, sources: tuple[SourceConfig, ...], kind_prefix: str) -> _Use | None:
    """The first source whose kind needs a network's token, if any."""
    for index, source in enumerate(sources):
        if source.kind.startswith(kind_prefix):
            line = root.report.lines.line_of(("sources", index))
            return _Use(f"required by source {source.key!r}", line)
    return None


def _read_secret(
    table: Table, key: str, environ: Mapping[str, str], use: _Use | None
) -> Secret | None:
    """The secret a `*_env` key names; a problem only when `use` says it is needed."""
    name = table.env_name(key)
    if name is None:
        if use and key not in table.data:
            table.problem(key, f"is {use.reason}", use.line)
        return None
    value = environ.get(name, "")
    if value.strip():
        return Secret(name, value)
    if use:
        table.problem(key, f"environment variable {name} is not set", use.line)
    return None


def _resolve_needs(
    report: Report, needs: tuple[EnvNeed, ...], environ: Mapping[str, str]
) -> tuple[Secret, ...]:
    """Every source secret; an unset variable is a problem, as the source uses it."""
    secrets: dict[str, Secret] = {}
    for need in needs:
        value = environ.get(need.env_name, "")
        if value.strip():
            secrets[need.env_name] = Secret(need.env_name, value)
        else:
            report.add(need.path, f"environment variable {need.env_name} is not set")
    return tuple(secrets.values())


def _read_database(table: Table, folder: str) -> DatabaseConfig:
    table.check_keys(("url",))
    url = table.text("url", DatabaseConfig().url)
    try:
        has_password = urlsplit(url).password is not None
    except ValueError:  # an unparsable port: reported as "not a database URL" below
        has_password = False
    if not _DB_URL.match(url):
        table.problem(
            "url", "not a database URL, like sqlite:///pln.db or postgresql+psycopg://user@host/db"
        )
    elif has_password:
        table.problem(
            "url",
            "secrets are never written in the file: leave the password out of the URL "
            "and set PGPASSWORD in the environment",
        )
    return DatabaseConfig(url=_resolve_sqlite(url, folder))


def _resolve_sqlite(url: str, folder: str) -> str:
    """`sqlite:///pln.db` -> `sqlite:////abs/folder/pln.db`: relative to the config file."""
    scheme, slashes, rest = url.partition(":///")
    if not slashes or scheme.partition("+")[0] != "sqlite":
        return url
    file, question, query = rest.partition("?")
    if file in ("", ":memory:") or file.startswith("file:"):
        return url
    full = os.path.normpath(os.path.join(folder, os.path.expanduser(file)))
    return f"{scheme}:///{full}{question}{query}"


def _read_email(table: Table, environ: Mapping[str, str], folder: str) -> EmailConfig:
    default = EmailConfig()
    table.check_keys(_EMAIL_KEYS)
    host = table.text("smtp_host", default.smtp_host)
    if not is_hostname(host):
        table.problem("smtp_host", "not a host name, like smtp.school.org")
    security = table.text("security", default.security).lower()
    if security not in _SECURITY:
        table.problem("security", f"must be one of: {', '.join(_SECURITY)}")
    username = table.text("username")
    use = _Use("required when username is set") if username else None
    sender = table.text("from", default.from_address)
    if not is_address(parseaddr(sender)[1]):
        table.problem("from", "not an email address, like PLN Digest <digest@school.org>")
    email = EmailConfig(
        smtp_host=host,
        smtp_port=table.whole("smtp_port", default.smtp_port, 1, 65535),
        security=security,
        username=username,
        password=_read_secret(table, "password_env", environ, use),
        from_address=sender,
    )
    return replace(email, **_read_email_delivery(table, environ, folder))


def _read_email_delivery(table: Table, environ: Mapping[str, str], folder: str) -> dict[str, Any]:
    """The `[email]` keys about where messages go, the admin and unsubscribing."""
    backend = table.text("backend", "smtp").lower()
    if backend not in _BACKENDS:
        table.problem("backend", f"must be one of: {', '.join(_BACKENDS)}")
    out = table.text("folder")
    if backend == "file" and not out:
        table.problem("folder", 'is required when backend = "file"')
    admin = table.text("admin")
    if admin and not is_address(parseaddr(admin)[1]):
        table.problem("admin", "not an email address, like it@school.org")
    public_url = table.text("public_url").rstrip("/")
    parts = urlsplit(public_url)
    if public_url and (parts.scheme != "https" or not parts.netloc or parts.query):
        # RFC 8058: one-click unsubscribe links must be https.
        table.problem("public_url", "must be an https:// address, like https://school.org/pln")
    use = _Use("required when public_url is set") if public_url else None
    secret = _read_secret(table, "unsubscribe_secret_env", environ, use)
    if secret is not None and len(secret.reveal()) < _MIN_SECRET_CHARS:
        table.problem(
            "unsubscribe_secret_env",
            f"{secret.env_name} is too short: use {_MIN_SECRET_CHARS} or more random "
            "characters, e.g. from: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'",
        )
    return {
        "backend": backend,
        "folder": _resolve_path(out, folder) if out else "",
        "admin": admin,
        "unsubscribe_secret": secret,
        "public_url": public_url,
        "resubscribe": _read_resubscribe(table),
    }


def _resolve_path(path: str, folder: str) -> str:
    """A path the file names, relative to the file's folder like the database."""
    return os.path.normpath(os.path.join(folder, os.path.expanduser(path)))


def _read_resubscribe(table: Table) -> tuple[tuple[str, date], ...]:
    """`resubscribe = { "ana@school.org" = 2026-12-01 }`: address and day."""
    value = table.data.get("resubscribe", {})
    if not isinstance(value, dict):
        table.problem(
            "resubscribe",
            'must be a table of address = day, like { "ana@school.org" = 2026-12-01 }',
        )
        return ()
    entries = []
    for address, day in value.items():
        where = (*table.path, "resubscribe", address)
        if not is_address(address):
            table.report.add(where, "not an email address")
        elif isinstance(day, datetime) or not isinstance(day, date):
            table.report.add(where, "must be a day without quotes, like 2026-12-01")
        else:
            entries.append((address, day))
    return tuple(entries)


def _read_fetch(table: Table) -> FetchConfig:
    default = FetchConfig()
    table.check_keys(_FETCH_KEYS)
    allow_private = table.texts("allow_private")
    for index, entry in enumerate(allow_private):
        message = check_private_entry(entry)
        if message:
            table.report.add((*table.path, "allow_private", index), message)
    user_agent = table.text("user_agent", default.user_agent)
    if not user_agent:
        table.problem("user_agent", "must not be empty")
    return FetchConfig(
        timeout_seconds=table.positive("timeout_seconds", default.timeout_seconds),
        max_body_bytes=table.whole("max_body_bytes", default.max_body_bytes, 1),
        max_redirects=table.whole("max_redirects", default.max_redirects, 0, 30),
        workers=table.whole("workers", default.workers, 1, 64),
        allow_private=allow_private,
        user_agent=user_agent or default.user_agent,
    )


def _read_digest(table: Table) -> DigestConfig:
    default = DigestConfig()
    table.check_keys(("max_window_hours", "words_per_minute", "skip_empty"))
    return DigestConfig(
        max_window_hours=table.whole("max_window_hours", default.max_window_hours, 1, 168),
        words_per_minute=table.whole("words_per_minute", default.words_per_minute, 50, 1000),
        skip_empty=table.flag("skip_empty", default.skip_empty),
    )


def _read_facebook(table: Table, environ: Mapping[str, str], use: _Use | None) -> FacebookConfig:
    default = FacebookConfig()
    table.check_keys(("access_token_env", "graph_version"))
    version = table.text("graph_version", default.graph_version)
    if not _GRAPH_VERSION.match(version):
        table.problem("graph_version", 'must be a Graph API version, like "v24.0"')
    return FacebookConfig(
        access_token=_read_secret(table, "access_token_env", environ, use),
        graph_version=version,
    )

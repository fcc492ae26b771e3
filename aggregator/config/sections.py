"""The single tables of the configuration: `[database]`, `[email]`, `[fetch]`,
`[digest]`, `[storage]`, `[facebook]`, `[queue]`, and the secrets their `*_env` keys name.

Each reader takes its `Table`, reports every wrong value as a problem with
its line and returns the section with defaults where a value was wrong, so
validation goes on and the admin sees every problem at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from aggregator.config.read import (
    Table,
    check_private_entry,
    is_address,
    is_hostname,
    mailbox_message,
)
from aggregator.config.types import (
    DatabaseConfig,
    DigestConfig,
    EmailConfig,
    FacebookConfig,
    FetchConfig,
    QueueConfig,
    StorageConfig,
)
from aggregator.domain.hosts import is_loopback
from aggregator.domain.limits import PUBLIC_URL_CHARS
from aggregator.domain.secret import Secret

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
    "allow_plaintext_auth",
)
_BACKENDS = ("smtp", "file")
# An HMAC key shorter than this is guessable; token_urlsafe(32) gives 43 characters.
MIN_SECRET_CHARS = 16
_SECURITY = ("starttls", "ssl", "none")
_DB_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GRAPH_VERSION = re.compile(r"^v\d+\.\d+$")
_QUEUE_KEYS = (
    "broker_url",
    "password_env",
    "lease_seconds",
    "tick_seconds",
    "requeue_seconds",
    "task_queue",
    "redis_url",
    "metrics_listen",
)
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
# RabbitMQ's own account, known to all and refused by it from any other machine:
# no secret to protect, so the file may spell it as RabbitMQ's manual does.
_PUBLIC_BROKER_LOGIN = ("guest", "guest")
_FETCH_KEYS = (
    "timeout_seconds",
    "max_body_bytes",
    "max_redirects",
    "workers",
    "max_per_host",
    "allow_private",
    "user_agent",
)


@dataclass(frozen=True, slots=True)
class SecretUse:
    """Why a secret is needed now, and the line to blame when its key is absent."""

    reason: str
    line: int | None = None


def read_secret(
    table: Table, key: str, environ: Mapping[str, str], use: SecretUse | None
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


def read_database(table: Table, folder: str) -> DatabaseConfig:
    """`[database]`; a relative SQLite path is resolved against `folder`."""
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


def read_storage(table: Table) -> StorageConfig:
    """`[storage]`: how many days posts are kept (1 to 3650)."""
    default = StorageConfig()
    table.check_keys(("keep_days",))
    return StorageConfig(keep_days=table.whole("keep_days", default.keep_days, 1, 3650))


def read_email(table: Table, environ: Mapping[str, str], folder: str) -> EmailConfig:
    """`[email]`: the SMTP server and its secret, where messages go, unsubscribing."""
    default = EmailConfig()
    table.check_keys(_EMAIL_KEYS)
    host = table.text("smtp_host", default.smtp_host)
    if not is_hostname(host):
        table.problem("smtp_host", "not a host name, like smtp.school.org")
    security = table.text("security", default.security).lower()
    if security not in _SECURITY:
        table.problem("security", f"must be one of: {', '.join(_SECURITY)}")
    username = table.text("username")
    use = SecretUse("required when username is set") if username else None
    sender = table.text("from", default.from_address)
    if message := mailbox_message(sender, "PLN Digest <digest@school.org>"):
        table.problem("from", message)
    email = EmailConfig(
        smtp_host=host,
        smtp_port=table.whole("smtp_port", default.smtp_port, 1, 65535),
        security=security,
        username=username,
        password=read_secret(table, "password_env", environ, use),
        from_address=sender,
        allow_plaintext_auth=table.flag("allow_plaintext_auth", default.allow_plaintext_auth),
    )
    email = replace(email, **_read_email_delivery(table, environ, folder))
    if email.security == "none" and email.username and email.backend == "smtp":
        _check_plaintext_auth(table, email)
    return email


def _check_plaintext_auth(table: Table, email: EmailConfig) -> None:
    """Without TLS the login (AUTH PLAIN/LOGIN) carries the password in clear:
    only to this machine, or where the admin says the path is trusted."""
    if email.allow_plaintext_auth or is_loopback(email.smtp_host):
        return
    table.problem(
        "security",
        f'"none" would send the SMTP password of {email.username} unencrypted to '
        f'{email.smtp_host}: use "starttls" or "ssl", or set allow_plaintext_auth = true '
        "if the network to it is trusted",
    )


def _read_email_delivery(table: Table, environ: Mapping[str, str], folder: str) -> dict[str, Any]:
    """The `[email]` keys about where messages go, the admin and unsubscribing."""
    backend = table.text("backend", "smtp").lower()
    if backend not in _BACKENDS:
        table.problem("backend", f"must be one of: {', '.join(_BACKENDS)}")
    out = table.text("folder")
    if backend == "file" and not out:
        table.problem("folder", 'is required when backend = "file"')
    admin = table.text("admin")
    if admin and (message := mailbox_message(admin, "it@school.org")):
        table.problem("admin", message)
    public_url = table.text("public_url").rstrip("/")
    parts = urlsplit(public_url)
    if public_url and (parts.scheme != "https" or not parts.netloc or parts.query):
        # RFC 8058: one-click unsubscribe links must be https.
        table.problem("public_url", "must be an https:// address, like https://school.org/pln")
    elif len(public_url) > PUBLIC_URL_CHARS:  # its links must fit in a header line
        table.problem("public_url", f"must be at most {PUBLIC_URL_CHARS} characters")
    use = SecretUse("required when public_url is set") if public_url else None
    secret = read_secret(table, "unsubscribe_secret_env", environ, use)
    if secret is not None and len(secret.reveal()) < MIN_SECRET_CHARS:
        table.problem(
            "unsubscribe_secret_env",
            f"{secret.env_name} is too short: use {MIN_SECRET_CHARS} or more random "
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


def read_fetch(table: Table) -> FetchConfig:
    """`[fetch]`: timeouts, size caps and the private addresses allowed."""
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
        max_per_host=table.whole("max_per_host", default.max_per_host, 1, 64),
        allow_private=allow_private,
        user_agent=user_agent or default.user_agent,
    )


def read_digest(table: Table) -> DigestConfig:
    """`[digest]`: the window and reading speed of every digest."""
    default = DigestConfig()
    table.check_keys(("max_window_hours", "words_per_minute", "skip_empty"))
    return DigestConfig(
        max_window_hours=table.whole("max_window_hours", default.max_window_hours, 1, 168),
        words_per_minute=table.whole("words_per_minute", default.words_per_minute, 50, 1000),
        skip_empty=table.flag("skip_empty", default.skip_empty),
    )


def read_facebook(
    table: Table, environ: Mapping[str, str], use: SecretUse | None
) -> FacebookConfig:
    """`[facebook]`: the Graph API token (a problem only when `use` needs it) and version."""
    default = FacebookConfig()
    table.check_keys(("access_token_env", "graph_version"))
    version = table.text("graph_version", default.graph_version)
    if not _GRAPH_VERSION.match(version):
        table.problem("graph_version", 'must be a Graph API version, like "v24.0"')
    return FacebookConfig(
        access_token=read_secret(table, "access_token_env", environ, use),
        graph_version=version,
    )


def _needed(table: Table, key: str) -> SecretUse | None:
    """A `*_env` key written in the file names a variable that must be set."""
    return SecretUse("required") if key in table.data else None


def read_queue(table: Table, environ: Mapping[str, str]) -> QueueConfig | None:
    """`[queue]`: the Celery broker and the leases of its workers; None when absent."""
    if not table.data:
        return None
    default = QueueConfig()
    table.check_keys(_QUEUE_KEYS)
    url = table.text("broker_url", required="to run workers")
    try:
        parts = urlsplit(url)
        login = (parts.username, parts.password)
    except ValueError:  # an unparsable port
        parts, login = urlsplit(""), (None, None)
    if url and parts.scheme not in _BROKER_SCHEMES:
        table.problem(
            "broker_url",
            "not a broker URL, like redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//",
        )
    elif login[1] is not None and login != _PUBLIC_BROKER_LOGIN:
        table.problem(
            "broker_url",
            "secrets are never written in the file: leave the password out of the URL "
            'and name the variable holding it with password_env = "NAME"',
        )
    lease = table.whole("lease_seconds", default.lease_seconds, 1, 3600)
    name = table.text("task_queue", default.task_queue)
    if not _QUEUE_NAME.match(name):
        table.problem("task_queue", "must be 1 to 100 letters, digits, '_', '.' or '-'")
        name = default.task_queue
    redis_url, metrics_listen = _read_queue_extras(table)
    return QueueConfig(
        redis_url=redis_url,
        metrics_listen=metrics_listen,
        task_queue=name,
        broker_url=url,
        password=read_secret(table, "password_env", environ, _needed(table, "password_env")),
        lease_seconds=lease,
        tick_seconds=table.whole("tick_seconds", default.tick_seconds, 1, 3600),
        requeue_seconds=table.whole("requeue_seconds", default.requeue_seconds, 1, 86400),
    )


def _read_queue_extras(table: Table) -> tuple[str, str]:
    """`[queue] redis_url` (the fleet's shared limits) and `metrics_listen` (HOST:PORT)."""
    redis_url = table.text("redis_url", "")
    try:
        parts = urlsplit(redis_url)
        bad_port = parts.port is not None and not 0 < parts.port < 65536
    except ValueError:
        parts, bad_port = urlsplit(""), True
    if redis_url and (parts.scheme not in ("redis", "rediss") or bad_port):
        table.problem("redis_url", "not a Redis URL, like redis://127.0.0.1:6379/1")
    elif parts.password is not None:
        table.problem("redis_url", "secrets are never written in the file: leave the password out")
    listen = table.text("metrics_listen", "")
    host, _, port = listen.rpartition(":")
    if listen and not (host and port.isdigit() and 0 < int(port) < 65536):
        table.problem("metrics_listen", 'not HOST:PORT, like "0.0.0.0:9464"')
    return redis_url, listen

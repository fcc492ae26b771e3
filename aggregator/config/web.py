"""`[web]`: where `pln serve` listens, the address teachers reach, the signing secret.

`[web] public_url` takes over from `[email] public_url`, which is still read:
without a `[web]` one, the `[email]` one is used (and `pln check` notes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from aggregator.config.read import Table
from aggregator.config.sections import MIN_SECRET_CHARS, SecretUse, read_secret
from aggregator.config.types import WebConfig
from aggregator.domain.hosts import is_loopback, split_listen
from aggregator.domain.limits import PUBLIC_URL_CHARS

_WEB_KEYS = ("listen", "public_url", "secret_env")


def read_web(table: Table, environ: Mapping[str, str], email_public_url: str) -> WebConfig:
    """`[web]`; the secret is required only when `listen` is set (`pln run` serves then).

    `email_public_url` is `[email] public_url`, used when `[web]` has none.
    """
    table.check_keys(_WEB_KEYS)
    listen = table.text("listen")
    if listen:
        try:
            split_listen(listen)
        except ValueError as exc:
            table.problem("listen", str(exc))
    public_url = table.text("public_url").rstrip("/")
    if public_url and (message := _public_url_problem(public_url)):
        table.problem("public_url", message)
    use = SecretUse("required when listen is set") if listen else None
    secret = read_secret(table, "secret_env", environ, use)
    if secret is not None and len(secret.reveal()) < MIN_SECRET_CHARS:
        table.problem(
            "secret_env",
            f"{secret.env_name} is too short: use {MIN_SECRET_CHARS} or more random "
            "characters, e.g. from: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'",
        )
        secret = None
    return WebConfig(
        listen=listen,
        public_url=public_url or email_public_url,
        secret=secret,
        secret_env=table.env_name("secret_env") or "",
    )


def _public_url_problem(url: str) -> str | None:
    """Why `url` cannot be where teachers reach the pages, or None.

    http is for this machine only: over a network, sessions and signed links
    would travel in clear.
    """
    parts = urlsplit(url)
    example = "like https://digest.school.org"
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        return f"must be an https:// address, {example}"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return (
            f"must be https:// (http only for this machine, like http://127.0.0.1:8080), {example}"
        )
    if len(url) > PUBLIC_URL_CHARS:  # its links must fit in a header line
        return f"must be at most {PUBLIC_URL_CHARS} characters"
    return None

"""`pln check --online`: one cheap call per source, to tell which ones work."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from aggregator.config.types import Config
from aggregator.domain.errors import SourceError
from aggregator.domain.source import SourceConfig
from connectors import REGISTRY
from connectors.base import Connector

log = logging.getLogger(__name__)


def check_sources(
    connectors: Mapping[str, Connector], sources: Sequence[SourceConfig]
) -> dict[str, list[str]]:
    """Problems per source key; an empty list means the source answered as expected."""
    problems: dict[str, list[str]] = {}
    for source in sources:
        connector = connectors.get(source.kind)
        if connector is None:
            problems[source.key] = [f"kind '{source.kind}' is not supported by this version"]
            continue
        try:
            problems[source.key] = connector.check(source)
        except SourceError as exc:
            problems[source.key] = [exc.message]
        log.info("%s: check %s", source.key, "ok" if not problems[source.key] else "failed")
    return problems


def billed_reads(sources: Sequence[SourceConfig]) -> dict[str, int]:
    """The most reads a month per source of a network that bills each post
    read (X), so admins see the cost before it is spent."""
    estimates: dict[str, int] = {}
    for source in sources:
        spec = REGISTRY.get(source.kind)
        if spec is not None and spec.monthly_reads is not None:
            estimates[source.key] = spec.monthly_reads(source)
    return estimates


def config_gaps(config: Config) -> tuple[list[str], list[str]]:
    """What a valid configuration still lacks to be useful: (errors, notes).

    With no `[[sources]]` nothing would ever be fetched (an empty file is
    valid TOML, not a configuration); with no `[[recipients]]` nothing is
    sent, which can be meant while sources are being set up.
    """
    errors, notes = [], []
    if not config.sources:
        errors.append(
            f"{config.path}: no [[sources]]: nothing would be fetched; "
            "add one (every kind is shown in config.example.toml)"
        )
    if not config.recipients:
        notes.append(f"{config.path}: no [[recipients]] yet: nothing will be sent")
    if config.email.public_url:
        notes.append(_email_public_url_note(config))
    if config.queue is not None and config.database.url.startswith("sqlite"):
        notes.append(
            f"{config.path}: [queue] with a SQLite database: workers on other machines "
            "cannot share it, and one machine's workers wait for each other's writes; "
            'use PostgreSQL ([database] url = "postgresql+psycopg://...")'
        )
    return errors, notes


def _email_public_url_note(config: Config) -> str:
    """`[email] public_url` is still read, but `[web] public_url` now says it."""
    if config.web.public_url == config.email.public_url:
        return (
            f"{config.path}: [email] public_url is used as [web] public_url; "
            "move it to [web] (links already sent stay valid)"
        )
    return (
        f"{config.path}: [email] public_url is ignored: [web] public_url takes over; "
        "remove it from [email]"
    )

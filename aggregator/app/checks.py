"""`pln check --online`: one cheap call per source, to tell which ones work."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from aggregator.domain.errors import SourceError
from aggregator.domain.source import SourceConfig
from connectors.base import Connector
from connectors.twitter.cursor import monthly_read_estimate

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
    """Expected monthly reads per X source: X bills every post read
    (API-NOTES §1), so admins see the cost before it is spent."""
    return {
        source.key: monthly_read_estimate(source)
        for source in sources
        if source.kind.startswith("twitter_")
    }

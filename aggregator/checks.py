"""`pln check --online`: one cheap call per source, to tell which ones work."""

from __future__ import annotations

import logging

from aggregator.errors import SourceError
from aggregator.wiring import App

log = logging.getLogger(__name__)


def check_sources(app: App) -> dict[str, list[str]]:
    """Problems per source key; an empty list means the source answered as expected."""
    problems: dict[str, list[str]] = {}
    for source in app.config.sources:
        connector = app.connectors.get(source.kind)
        if connector is None:
            problems[source.key] = [f"kind '{source.kind}' is not supported by this version"]
            continue
        try:
            problems[source.key] = connector.check(source)
        except SourceError as exc:
            problems[source.key] = [exc.message]
        log.info("%s: check %s", source.key, "ok" if not problems[source.key] else "failed")
    return problems

"""PLN Digest's library API: everything `pln` does, callable without the CLI.

Names are loaded on first use (PEP 562) so that importing one small module,
say in a feed-parsing worker process, does not pull in the database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Config": "aggregator.config.types",
    "load_config": "aggregator.app.config",
    "ConfigError": "aggregator.domain.errors",
    "PLNError": "aggregator.domain.errors",
    "SourceError": "aggregator.domain.errors",
    "Engagement": "aggregator.domain.post",
    "FetchOutcome": "aggregator.domain.source",
    "Post": "aggregator.domain.post",
    "RecipientConfig": "aggregator.domain.recipient",
    "SourceConfig": "aggregator.domain.source",
    "build_app": "aggregator.app.wiring",
    "fetch_sources": "aggregator.app.ingest",
    "fetch_due_sources": "aggregator.app.ingest",
    "run_demo": "aggregator.run.demo.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
    return getattr(import_module(module), name)

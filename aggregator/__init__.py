"""PLN Digest's library API: everything `pln` does, callable without the CLI.

Names are loaded on first use (PEP 562) so that importing one small module,
say in a feed-parsing worker process, does not pull in the database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Config": "aggregator.config",
    "load_config": "aggregator.config",
    "ConfigError": "aggregator.errors",
    "PLNError": "aggregator.errors",
    "SourceError": "aggregator.errors",
    "Engagement": "aggregator.models",
    "FetchOutcome": "aggregator.models",
    "Post": "aggregator.models",
    "RecipientConfig": "aggregator.models",
    "SourceConfig": "aggregator.models",
    "build_app": "aggregator.wiring",
    "fetch_sources": "aggregator.ingest",
    "fetch_due_sources": "aggregator.ingest",
    "run_demo": "aggregator.demo_run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
    return getattr(import_module(module), name)

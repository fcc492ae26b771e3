"""Network connectors: one module per network, found by source kind.

`REGISTRY` maps each SPEC source kind to the class that fetches it; wiring
builds the instances. A kind missing here is configured but not yet fetched
(its sources record "not supported by this version").
"""

from __future__ import annotations

from connectors.base import Connector
from connectors.rss import RssConnector

REGISTRY: dict[str, type[Connector]] = {
    RssConnector.kind: RssConnector,
}

__all__ = ["REGISTRY", "Connector"]

"""Network connectors: one module per network, found by source kind.

`REGISTRY` maps each SPEC source kind to the factory that builds its
connector from a `ConnectorContext`; wiring calls it. A kind missing here is
configured but not yet fetched (its sources record "not supported by this
version").
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import Connector, ConnectorContext
from connectors.bluesky import BlueskySearchConnector
from connectors.email_inbox import EmailInboxConnector
from connectors.facebook import FacebookGroupConnector, FacebookPageConnector
from connectors.mastodon import MastodonTagConnector
from connectors.rss import RssConnector
from connectors.twitter import (
    TwitterListConnector,
    TwitterSearchConnector,
    TwitterUserConnector,
)


def _rss(context: ConnectorContext) -> Connector:
    return RssConnector(context.session, context.config.fetch, context.clock, context.parse_pool)


REGISTRY: dict[str, Callable[[ConnectorContext], Connector]] = {
    RssConnector.kind: _rss,
    MastodonTagConnector.kind: MastodonTagConnector,
    FacebookPageConnector.kind: FacebookPageConnector,
    FacebookGroupConnector.kind: FacebookGroupConnector,
    BlueskySearchConnector.kind: BlueskySearchConnector,
    TwitterSearchConnector.kind: TwitterSearchConnector,
    TwitterUserConnector.kind: TwitterUserConnector,
    TwitterListConnector.kind: TwitterListConnector,
    EmailInboxConnector.kind: EmailInboxConnector,
}

__all__ = ["REGISTRY", "Connector", "ConnectorContext"]

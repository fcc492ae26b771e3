"""Network connectors: one module per network, found by source kind.

`REGISTRY` maps each SPEC source kind to where its connector class lives;
`connector_factory(kind)` imports it when a configuration uses that kind, so
a feed-parsing worker process (which imports `connectors.rss.connector`) does not load
every network's SDK. A kind missing here is configured but not fetched (its
sources record "not supported by this version").
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from connectors.base import Connector, ConnectorContext

REGISTRY: dict[str, str] = {
    "rss": "connectors.rss.connector:from_context",
    "twitter_search": "connectors.twitter.connector:TwitterSearchConnector",
    "twitter_user": "connectors.twitter.connector:TwitterUserConnector",
    "twitter_list": "connectors.twitter.connector:TwitterListConnector",
    "facebook_page": "connectors.facebook.connector:FacebookPageConnector",
    "facebook_group": "connectors.facebook.connector:FacebookGroupConnector",
    "mastodon_tag": "connectors.mastodon.connector:MastodonTagConnector",
    "bluesky_search": "connectors.bluesky.connector:BlueskySearchConnector",
    "email_inbox": "connectors.email_inbox.connector:EmailInboxConnector",
}


def connector_factory(kind: str) -> Callable[[ConnectorContext], Connector]:
    """What builds the connector of `kind` from a context (KeyError if unknown)."""
    module, _, name = REGISTRY[kind].partition(":")
    factory: Callable[[ConnectorContext], Connector] = getattr(import_module(module), name)
    return factory


__all__ = ["REGISTRY", "Connector", "ConnectorContext", "connector_factory"]

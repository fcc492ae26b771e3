"""Network connectors, one sub-package per network, and the one list of source kinds.

`REGISTRY` maps each source kind to its `ConnectorSpec`: its network, its
`[[sources]]` options, how often a source of it is fetched, and where its
connector lives. Everything else that depends on the kind (the
configuration's checks, scheduling, credentials, a digest's network names)
reads it from here. The connector itself is imported only when a
configuration uses the kind, so a feed-parsing worker process (which
imports `connectors.rss.connector`) does not load every network's SDK. A
kind missing here is refused by the configuration.

Adding a network is one sub-package (its connector, and an `options`
module with its `Network` and option specs) and one line here.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Connector, ConnectorContext, ConnectorFactory, ConnectorSpec
from connectors.bluesky import options as bluesky
from connectors.email_inbox import options as email_inbox
from connectors.facebook import options as facebook
from connectors.mastodon import options as mastodon
from connectors.rss import options as rss
from connectors.twitter import options as twitter
from connectors.twitter.cursor import monthly_read_estimate

_MINUTES = timedelta(minutes=1)


def _by_kind(*specs: ConnectorSpec) -> dict[str, ConnectorSpec]:
    return {spec.kind: spec for spec in specs}


# Default intervals, overridden by a source's `interval_minutes`: X bills every
# read, Facebook's Graph API limits calls per hour, a newsletter inbox is cheap
# to poll and a hashtag on Mastodon moves faster than a blog. The order is the
# order `pln check` lists the kinds in.
REGISTRY: dict[str, ConnectorSpec] = _by_kind(
    ConnectorSpec("rss", rss.NETWORK, rss.OPTIONS, 60 * _MINUTES, "connectors.rss.connector:from_context"),
    ConnectorSpec("twitter_search", twitter.NETWORK, twitter.SEARCH_OPTIONS, 240 * _MINUTES, "connectors.twitter.connector:TwitterSearchConnector", monthly_read_estimate),
    ConnectorSpec("twitter_user", twitter.NETWORK, twitter.USER_OPTIONS, 240 * _MINUTES, "connectors.twitter.connector:TwitterUserConnector", monthly_read_estimate),
    ConnectorSpec("twitter_list", twitter.NETWORK, twitter.LIST_OPTIONS, 240 * _MINUTES, "connectors.twitter.connector:TwitterListConnector", monthly_read_estimate),
    ConnectorSpec("facebook_group", facebook.NETWORK, facebook.GROUP_OPTIONS, 120 * _MINUTES, "connectors.facebook.connector:FacebookGroupConnector"),
    ConnectorSpec("facebook_page", facebook.NETWORK, facebook.PAGE_OPTIONS, 120 * _MINUTES, "connectors.facebook.connector:FacebookPageConnector"),
    ConnectorSpec("mastodon_tag", mastodon.NETWORK, mastodon.TAG_OPTIONS, 30 * _MINUTES, "connectors.mastodon.connector:MastodonTagConnector"),
    ConnectorSpec("bluesky_search", bluesky.NETWORK, bluesky.SEARCH_OPTIONS, 60 * _MINUTES, "connectors.bluesky.connector:BlueskySearchConnector"),
    ConnectorSpec("email_inbox", email_inbox.NETWORK, email_inbox.OPTIONS, 15 * _MINUTES, "connectors.email_inbox.connector:EmailInboxConnector"),
)  # fmt: skip  # one kind a line, so the table reads as a table


def connector_factory(kind: str) -> ConnectorFactory:
    """What builds the connector of `kind` from a context (KeyError if unknown)."""
    return REGISTRY[kind].load()


def network_labels() -> dict[str, str]:
    """How a digest names each network (`Post.network` -> "X", "Web", ...)."""
    return {spec.network.name: spec.network.label for spec in REGISTRY.values()}


__all__ = [
    "REGISTRY",
    "Connector",
    "ConnectorContext",
    "ConnectorSpec",
    "connector_factory",
    "network_labels",
]

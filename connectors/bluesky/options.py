"""The `bluesky_search` kind as the configuration sees it: the network and its options."""

from __future__ import annotations

from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("bluesky", "Bluesky")

SEARCH_OPTIONS = {
    "query": Option(required=True),
    "handle_env": Option("env", required=True),
    "app_password_env": Option("env", required=True),
}
"""`bluesky_search`: posts matching `query`, searched as the account the secrets name."""

"""The `bluesky_search` kind as the configuration sees it: the network and its options."""

from __future__ import annotations

from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("bluesky", "Bluesky")

SEARCH_OPTIONS = {
    "query": Option(
        required=True,
        help="What to search for, as in Bluesky's search box: #edusky, from:handle, words",
    ),
    "handle_env": Option(
        "env", required=True, help="The environment variable holding the account's handle"
    ),
    "app_password_env": Option(
        "env",
        required=True,
        help="The environment variable holding an app password (Settings > App passwords)",
    ),
}
"""`bluesky_search`: posts matching `query`, searched as the account the secrets name."""

"""The X (Twitter) kinds as the configuration sees them: the network and each kind's options."""

from __future__ import annotations

import re

from aggregator.domain.source import Option
from connectors.base import Network
from connectors.options import numeric_id
from connectors.twitter.cursor import DEFAULT_DAILY_READS

NETWORK = Network("twitter", "X", section="twitter")


def username(value: str) -> str:
    """An X user name, without its `@`."""
    name = value.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", name):
        raise ValueError("must be an X user name, like edutopia (at most 15 letters, digits, _)")
    return name


# X bills every post read: each X source reads at most this many posts a UTC day.
_READ_BUDGET = Option(
    "count",
    default=str(DEFAULT_DAILY_READS),
    help="The most posts read a day; X bills each one",
)

SEARCH_OPTIONS = {
    "query": Option(required=True, help="An X search, like #edchat -is:retweet"),
    "max_posts_per_day": _READ_BUDGET,
}
"""`twitter_search`: recent posts matching `query`."""
USER_OPTIONS = {
    "username": Option(
        required=True, normalize=username, help="The account's name, without @, like edutopia"
    ),
    "max_posts_per_day": _READ_BUDGET,
}
"""`twitter_user`: the posts of one account."""
LIST_OPTIONS = {
    "list_id": Option(
        required=True, normalize=numeric_id, help="The list's numeric id (in its address)"
    ),
    "max_posts_per_day": _READ_BUDGET,
}
"""`twitter_list`: the posts of a list's members."""

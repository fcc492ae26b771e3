"""The Facebook kinds as the configuration sees them: the network and each kind's options."""

from __future__ import annotations

import re

from aggregator.domain.source import Option
from connectors.base import Network
from connectors.options import numeric_id

NETWORK = Network("facebook", "Facebook", section="facebook")


def page_id(value: str) -> str:
    """A page's numeric id or user name."""
    if not re.fullmatch(r"[A-Za-z0-9.]+", value):
        raise ValueError("must be the page's numeric id or user name")
    return value


PAGE_OPTIONS = {
    "page_id": Option(
        required=True, normalize=page_id, help="The page's name in its address, or its numeric id"
    )
}
"""`facebook_page`: a public page's posts."""
GROUP_OPTIONS = {
    "group_id": Option(
        required=True, normalize=numeric_id, help="The group's numeric id (in its address)"
    )
}
"""`facebook_group`: a group's feed, where Facebook still gives access to it."""

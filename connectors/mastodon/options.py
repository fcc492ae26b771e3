"""The `mastodon_tag` kind as the configuration sees it: the network and its options."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from aggregator.config.read import is_hostname
from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("mastodon", "Mastodon")


def instance(value: str) -> str:
    """`mastodon.social` or `https://mastodon.social/` -> `https://mastodon.social`."""
    message = "must be a host name like mastodon.social, or an https:// URL"
    host = value.rstrip("/")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme.lower() != "https" or parts.path.strip("/") or parts.query:
            raise ValueError(message)
        host = parts.netloc
    name, _, port = host.partition(":")
    if not is_hostname(name) or (port and not port.isdigit()):
        raise ValueError(message)
    return f"https://{host.lower()}"


def hashtag(value: str) -> str:
    """One hashtag, without its `#`."""
    tag = value.removeprefix("#")
    if not re.fullmatch(r"\w+", tag):
        raise ValueError("must be one hashtag, like edchat (letters, digits and _)")
    return tag


TAG_OPTIONS = {
    "instance": Option(
        required=True, normalize=instance, help="The server to read from, like mastodon.social"
    ),
    "tag": Option(required=True, normalize=hashtag, help="One hashtag, without #, like edchat"),
    "token_env": Option("env", help="Optional: the environment variable holding an access token"),
}
"""`mastodon_tag`: a hashtag's public timeline on one instance (a token is optional)."""

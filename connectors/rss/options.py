"""The `rss` kind as the configuration sees it: the network and the `url` option."""

from __future__ import annotations

from urllib.parse import urlsplit

from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("rss", "Web")


def http_url(value: str) -> str:
    """An absolute http(s) URL without a password, as written."""
    try:
        parts = urlsplit(value)
        is_web = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        is_web = is_web and parts.port != 0
    except ValueError as exc:  # a port that is not a number, a broken IPv6 literal
        raise ValueError("not an http(s) URL") from exc
    if not is_web:
        raise ValueError("not an http(s) URL")
    if parts.password is not None:
        raise ValueError("secrets are never written in the file: take the password out of the URL")
    return value


OPTIONS = {
    "url": Option(
        required=True,
        normalize=http_url,
        help="The feed's address (RSS, Atom or JSON Feed); a blog's page that names its feed works",
    )
}
"""A feed: RSS, Atom or JSON Feed, at `url`."""

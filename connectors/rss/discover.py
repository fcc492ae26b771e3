"""Feed discovery: the address an admin pastes, made into the source it means.

A blog's home page names its feed with `<link rel="alternate"
type="application/rss+xml">` (or Atom, or JSON Feed); a page naming none is
tried at the usual feed paths of its site. Some addresses say what they are
by their shape: a YouTube channel (its feed is
`/feeds/videos.xml?channel_id=…`), a Mastodon hashtag (a `mastodon_tag`
source) or profile (its `.rss`), a Bluesky hashtag or profile (a
`bluesky_search` source). Every request goes through the guarded session
(private addresses, size caps, time limits) like any fetch.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import requests

from aggregator.config.types import FetchConfig
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.errors import ParseError, SourceError
from connectors.http.errors import raise_for_status
from connectors.http.fetch import fetch_url
from connectors.http.response import HttpResponse
from connectors.rss.options import http_url
from connectors.rss.page import FeedLink, feed_links, main_feeds, page_title
from connectors.rss.parse import read_feed

__all__ = ["Proposal", "discover_feeds", "feeds_at_usual_paths"]

PROBE_TIMEOUT_S = 4.0
WELL_KNOWN_PATHS = ("/feed", "/rss", "/atom.xml", "/feed.xml", "/index.xml", "/rss.xml")
_WHO = "discovery"  # what fetch errors are attributed to: no source exists yet
_PAGE_ACCEPT = "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.5"
_YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com"})
_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_CHANNEL_IN_PAGE = re.compile(
    rb'(?:"(?:channelId|externalId)"\s*:\s*"|itemprop="(?:channelId|identifier)"\s+content=")'
    rb"(UC[A-Za-z0-9_-]{22})"
)
_MASTODON_TAG = re.compile(r"^/tags/(\w+)/?$")
_MASTODON_USER = re.compile(r"^/@(\w+(?:@[\w.-]+)?)/?$")
_BLUESKY_TAG = re.compile(r"^/hashtag/([^/]+)/?$")
_BLUESKY_PROFILE = re.compile(r"^/profile/([A-Za-z0-9.:-]+)/?$")
_GENERIC_TITLES = frozenset({"", "rss", "atom", "feed", "rss feed", "atom feed", "json feed"})
_FEED_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A source an address could become: its kind and options (values as the
    config file writes them), a name to show, and how it was found."""

    kind: str
    options: tuple[tuple[str, str], ...]
    name: str = ""
    found: str = ""

    def option(self, name: str) -> str:
        """One option's value, or ""."""
        return dict(self.options).get(name, "")


def discover_feeds(
    url: str, session: requests.Session, limits: FetchConfig, clock: Clock = utc_now
) -> list[Proposal]:
    """What `url` could be followed as, best first; [] when nothing was found.

    Raises ValueError when `url` is not an http(s) URL, and SourceError
    (FetchError, AuthError...) when the page itself cannot be fetched.
    """
    url = http_url(url.strip())
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "bsky.app":
        return _bluesky(parts.path)
    if host in _YOUTUBE_HOSTS and (fixed := _youtube_by_address(parts.path, parts.query)):
        return [fixed]
    if _MASTODON_TAG.match(parts.path) or _MASTODON_USER.match(parts.path):
        found = _mastodon(url, session, limits)
        if found:
            return found
    page = _get(session, url, limits, _PAGE_ACCEPT)
    raise_for_status(_WHO, page, clock())
    if (title := _feed_title(page, clock)) is not None:
        return [Proposal("rss", (("url", page.url),), title, "the address is a feed")]
    title = page_title(page.body)
    proposals = [_named(link, title) for link in _ordered(feed_links(page.body, page.url))]
    if not proposals and host in _YOUTUBE_HOSTS:
        proposals = _youtube_in_page(page.body)
    return proposals or feeds_at_usual_paths(page.url, session, limits, clock)


def _ordered(links: list[FeedLink]) -> list[FeedLink]:
    main = main_feeds(links)
    return main + [link for link in links if link not in main]


def _named(link: FeedLink, page_title: str) -> Proposal:
    """A feed the page names, called by its link's title unless that says
    nothing more than "RSS" (YouTube's), then by the page's."""
    name = link.title if link.title.casefold() not in _GENERIC_TITLES else page_title
    return Proposal("rss", (("url", link.url),), name, "named by the page")


def _get(session: requests.Session, url: str, limits: FetchConfig, accept: str) -> HttpResponse:
    return fetch_url(
        session,
        url,
        timeout_s=limits.timeout_seconds,
        max_bytes=limits.max_body_bytes,
        max_redirects=limits.max_redirects,
        allow_private=limits.allow_private,
        headers={"Accept": accept},
        source_key=_WHO,
    )


def _feed_title(response: HttpResponse, clock: Clock) -> str | None:
    """The feed's title when the response is a feed; None when it is not."""
    try:
        read_feed(
            _WHO,
            response.body,
            response.headers.get("content-type", ""),
            response.url,
            clock(),
        )
    except ParseError:
        return None
    if response.body.lstrip()[:1] == b"{":
        try:
            title = json.loads(response.body).get("title", "")
        except (ValueError, AttributeError):
            title = ""
        return str(title).strip() if isinstance(title, str) else ""
    match = _FEED_TITLE.search(response.body[:65536])
    raw = match.group(1).decode("utf-8", "replace") if match else ""
    raw = raw.replace("<![CDATA[", "").replace("]]>", "")
    return " ".join(html.unescape(raw).split())


def feeds_at_usual_paths(
    url: str, session: requests.Session, limits: FetchConfig, clock: Clock
) -> list[Proposal]:
    """The first usual feed path of `url`'s site that answers with a feed
    (at most one: the paths are tried in turn until one does). Each try gets
    at most `PROBE_TIMEOUT_S`, so a site that drops them all costs seconds,
    not minutes, while an admin waits."""
    limits = replace(limits, timeout_seconds=min(limits.timeout_seconds, PROBE_TIMEOUT_S))
    for path in WELL_KNOWN_PATHS:
        try:
            response = _get(session, urljoin(url, path), limits, "*/*")
        except SourceError:
            continue
        if response.status == 200 and (title := _feed_title(response, clock)) is not None:
            return [Proposal("rss", (("url", response.url),), title, f"answers at {path}")]
    return []


def _youtube_by_address(path: str, query: str) -> Proposal | None:
    """A channel or playlist address holds its id: no request needed."""
    feeds = "https://www.youtube.com/feeds/videos.xml"
    segments = path.strip("/").split("/")
    if len(segments) >= 2 and segments[0] == "channel" and _CHANNEL_ID.match(segments[1]):
        return Proposal(
            "rss", (("url", f"{feeds}?channel_id={segments[1]}"),), "", "YouTube channel"
        )
    playlist = parse_qs(query).get("list", [""])[0]
    if path.rstrip("/") == "/playlist" and re.fullmatch(r"[A-Za-z0-9_-]+", playlist):
        return Proposal(
            "rss", (("url", f"{feeds}?playlist_id={playlist}"),), "", "YouTube playlist"
        )
    return None


def _youtube_in_page(body: bytes) -> list[Proposal]:
    """A channel page (`/@handle`, `/c/name`) that names no feed still holds its id."""
    match = _CHANNEL_IN_PAGE.search(body)
    if match is None:
        return []
    channel = match.group(1).decode("ascii")
    feed = f"https://www.youtube.com/feeds/videos.xml?channel_id={channel}"
    return [Proposal("rss", (("url", feed),), page_title(body), "YouTube channel")]


def _mastodon(url: str, session: requests.Session, limits: FetchConfig) -> list[Proposal]:
    """A hashtag or profile on a server that answers Mastodon's API."""
    parts = urlsplit(url)
    instance = f"https://{parts.netloc.lower()}"
    if parts.scheme != "https" or not _answers_mastodon_api(instance, session, limits):
        return []
    if tag := _MASTODON_TAG.match(parts.path):
        options = (("instance", instance), ("tag", tag.group(1)))
        return [Proposal("mastodon_tag", options, f"#{tag.group(1)}", "Mastodon hashtag")]
    user = _MASTODON_USER.match(parts.path)
    if user is None or "@" in user.group(1):
        return []  # a remote account shown here: its own server has its feed
    feed = f"{instance}/@{quote(user.group(1))}.rss"
    return [Proposal("rss", (("url", feed),), f"@{user.group(1)}", "Mastodon profile")]


def _answers_mastodon_api(instance: str, session: requests.Session, limits: FetchConfig) -> bool:
    try:
        response = _get(session, f"{instance}/api/v1/instance", limits, "application/json")
        document = json.loads(response.body) if response.status == 200 else None
    except (SourceError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("uri"), str)


def _bluesky(path: str) -> list[Proposal]:
    if tag := _BLUESKY_TAG.match(path):
        query = f"#{tag.group(1).removeprefix('%23').removeprefix('#')}"
        return [Proposal("bluesky_search", (("query", query),), query, "Bluesky hashtag")]
    if profile := _BLUESKY_PROFILE.match(path):
        handle = profile.group(1)
        query = f"from:{handle}"
        return [Proposal("bluesky_search", (("query", query),), f"@{handle}", "Bluesky profile")]
    return []

"""The `rss` connector: RSS, Atom and JSON Feed over HTTP.

Fetching is a conditional GET through `connectors.http.fetch` (ETag and
Last-Modified come back in the `FetchResult`, a 304 costs no parsing);
parsing is `connectors.rss.parse.read_feed`, optionally in a process pool.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar

import requests

from aggregator.config.types import FetchConfig
from aggregator.domain.clock import Clock
from aggregator.domain.errors import FetchError, ParseError, SourceError
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.http.errors import raise_for_status
from connectors.http.fetch import fetch_url
from connectors.http.response import HttpResponse
from connectors.rss.delta import known_items, trim_known
from connectors.rss.discover import feeds_at_usual_paths
from connectors.rss.item import web_url
from connectors.rss.page import feed_links, is_html_page, main_feeds
from connectors.rss.parse import ParsedFeed, read_feed

__all__ = ["RssConnector"]

log = logging.getLogger(__name__)

# An item without a date, met on a feed's first fetch, belongs to its back
# catalogue: it is dated this far back, before any digest window (at most
# 168 hours), so a whole old feed does not land in the next digest. Undated
# items met later are new, and dated when first seen.
UNDATED_BACK_CATALOGUE_AGE = timedelta(days=8)

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


class RssConnector:
    """Fetches one feed URL per source (option `url`).

    `session` comes from `connectors.http.guard.make_session`; `fetch` holds the
    limits; `clock` gives "now" (aware UTC); `parse_pool`, when given, runs
    the parsing (CPU-bound) so fetch threads are not serialised on the GIL.
    """

    kind: ClassVar[str] = "rss"

    def __init__(
        self,
        session: requests.Session,
        fetch: FetchConfig,
        clock: Clock,
        parse_pool: Executor | None = None,
    ) -> None:
        self._session = session
        self._limits = fetch
        self._clock = clock
        self._pool = parse_pool

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Fetch the feed (at `state.url` if it moved) and parse what changed.

        A `url` that is an HTML page naming exactly one feed (comment feeds
        aside) is fetched from that feed, which is remembered like a
        permanent redirect. Raises FetchError (network, HTTP status, size,
        address), SourceGone (410), AuthError (401/403), RateLimited (429,
        503 with Retry-After) or ParseError (not a feed).
        """
        return self._fetch(source, state, discover=True)[0]

    def check(self, source: SourceConfig) -> list[str]:
        """Fetch the feed once; its problems as one-line strings ([] = OK).

        A page naming no feed is tried at its site's usual feed paths, so
        the message can say where the feed is.
        """
        try:
            result, discovered = self._fetch(source, FetchState(), discover=True)
        except ParseError as exc:
            if exc.message != "not a feed (HTML page)":
                return [exc.message]
            return [self._with_usual_feed(source, exc.message)]
        except SourceError as exc:
            return [exc.message]
        problems = []
        if result.moved_to and not discovered:
            problems.append(f"the feed moved permanently to {result.moved_to}; update its url")
        return problems

    def _fetch(
        self, source: SourceConfig, state: FetchState, *, discover: bool
    ) -> tuple[FetchResult, bool]:
        """The fetch, and whether it went to a feed the page at `url` named."""
        url = state.url or source.option("url")
        if not url:
            raise FetchError(source.key, "no url set for this feed source")
        headers = {"Accept": _ACCEPT}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        response = self._get(source.key, url, headers)
        if response.status == 304:
            return FetchResult(not_modified=True, moved_to=response.permanent_redirect_to), False
        raise_for_status(source.key, response, self._clock())
        try:
            parsed, cursor = self._parse(source.key, response, state)
        except ParseError as exc:
            feed = _only_feed(source.key, response, exc) if discover else None
            if feed is None:
                raise
            return self._fetch_named_feed(source, state, feed), True
        result = FetchResult(
            posts=parsed.posts,
            problem=parsed.problem,
            cursor=cursor,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            moved_to=response.permanent_redirect_to,
        )
        return result, False

    def _fetch_named_feed(self, source: SourceConfig, state: FetchState, feed: str) -> FetchResult:
        found = FetchState(url=feed, is_first_fetch=state.is_first_fetch)
        try:
            result = self._fetch(source, found, discover=False)[0]
        except SourceError as exc:  # said of the feed, not of the page the admin gave
            message = f"the feed this page names ({feed}): {exc.message}"
            raise type(exc)(source.key, message, exc.retry_after) from exc
        return replace(result, moved_to=result.moved_to or feed)

    def _with_usual_feed(self, source: SourceConfig, message: str) -> str:
        try:
            found = feeds_at_usual_paths(
                source.option("url"), self._session, self._limits, self._clock
            )
        except (SourceError, ValueError):
            return message
        if not found:
            return message
        url = found[0].option("url")
        return f"not a feed (an HTML page); its feed is at {url}: use that as the source url"

    def _get(self, source_key: str, url: str, headers: dict[str, str]) -> HttpResponse:
        limits = self._limits
        return fetch_url(
            self._session,
            url,
            timeout_s=limits.timeout_seconds,
            max_bytes=limits.max_body_bytes,
            max_redirects=limits.max_redirects,
            allow_private=limits.allow_private,
            headers=headers,
            source_key=source_key,
        )

    def _parse(
        self, source_key: str, response: HttpResponse, state: FetchState
    ) -> tuple[ParsedFeed, str | None]:
        """Parse here or in the pool; unexpected parser crashes become ParseError.

        Relative links are relative to the document's Content-Location when
        it names one (RFC 9110 §8.7), else to its URL.
        """
        now = self._clock()
        base = web_url(response.headers.get("content-location", ""), response.url)
        args = (
            source_key,
            response.body,
            response.headers.get("content-type", ""),
            base or response.url,
            now,
            state.cursor,
            now - UNDATED_BACK_CATALOGUE_AGE if state.is_first_fetch else None,
        )
        try:
            if self._pool is None:
                return parse_new_items(*args)
            return self._pool.submit(parse_new_items, *args).result()
        except SourceError:
            raise
        except Exception as exc:  # a parser bug must not take the whole fetch run down
            log.exception("%s: unexpected error while parsing the feed", source_key)
            raise ParseError(
                source_key, f"unexpected error while parsing: {type(exc).__name__}"
            ) from exc


def _only_feed(source_key: str, response: HttpResponse, error: ParseError) -> str | None:
    """The one feed an HTML page names; ParseError listing them when it names several."""
    if not is_html_page(response.body):
        return None
    links = feed_links(response.body, response.url)
    feeds = main_feeds(links) or links
    if len(feeds) > 1:
        listed = ", ".join(link.url for link in feeds[:5])
        raise ParseError(
            source_key,
            f"not a feed (an HTML page); it names {len(feeds)} feeds: {listed}: "
            "use one of them as the source url",
        ) from error
    return feeds[0].url if feeds else None


def parse_new_items(
    source_key: str,
    body: bytes,
    content_type: str,
    url: str,
    now: datetime,
    cursor: str | None,
    undated_at: datetime | None = None,
) -> tuple[ParsedFeed, str | None]:
    """Parse only the items not seen at the last fetch (see `connectors.rss.delta`).

    Module-level so a process pool can run it. Returns the parsed feed and
    the new cursor; raises ParseError like `read_feed`.
    """
    delta = trim_known(body, known_items(cursor))
    if delta.document is None:
        return ParsedFeed(()), delta.cursor
    parsed = read_feed(source_key, delta.document, content_type, url, now, undated_at)
    return parsed, delta.cursor


def from_context(context: ConnectorContext) -> RssConnector:
    """The rss connector as wiring builds it (see `connectors.REGISTRY`)."""
    return RssConnector(context.session, context.config.fetch, context.clock, context.parse_pool)

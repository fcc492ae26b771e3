"""The `rss` connector: RSS, Atom and JSON Feed over HTTP.

Fetching is a conditional GET through `connectors.http.fetch` (ETag and
Last-Modified come back in the `FetchResult`, a 304 costs no parsing);
parsing is `connectors.rss.parse.read_feed`, optionally in a process pool.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
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
from connectors.rss.item import web_url
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

        Raises FetchError (network, HTTP status, size, address), SourceGone
        (410), AuthError (401/403), RateLimited (429, 503 with Retry-After)
        or ParseError (not a feed).
        """
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
            return FetchResult(not_modified=True, moved_to=response.permanent_redirect_to)
        raise_for_status(source.key, response, self._clock())
        parsed, cursor = self._parse(source.key, response, state)
        return FetchResult(
            posts=parsed.posts,
            problem=parsed.problem,
            cursor=cursor,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            moved_to=response.permanent_redirect_to,
        )

    def check(self, source: SourceConfig) -> list[str]:
        """Fetch the feed once; its problems as one-line strings ([] = OK)."""
        try:
            result = self.fetch(source, FetchState())
        except SourceError as exc:
            return [exc.message]
        problems = []
        if result.moved_to:
            problems.append(f"the feed moved permanently to {result.moved_to}; update its url")
        return problems

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

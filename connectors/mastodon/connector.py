"""The `mastodon_tag` connector: an instance's public hashtag timeline.

Plain `requests` + JSON over the guarded session (`connectors.http.fetch`), no
SDK: one GET of `/api/v1/timelines/tag/:tag` per page (docs/api-notes.md §3).

Paging: the first fetch reads the newest page and follows `rel="next"`
(older) until the digest window is covered, the page cap is reached or a
page comes back `[]`. Later fetches ask only for what is newer than the
cursor (`min_id`, the newest status id seen) and follow `rel="prev"`
(newer), which pages forward without gaps; if the cap stops a run, the next
run goes on from there. Only the page id is taken from a `Link` header: the
URL is always rebuilt on the configured instance, so a token never goes to
another host and the page size stays ours.

A boost is a share, not a post: the original status is stored once, under
its own id, and the boost as its booster's repost of it (`Post.repost_of`),
so the booster counts among those who shared it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from requests.utils import parse_header_links

from aggregator.domain.errors import (
    AuthError,
    FetchError,
    ParseError,
    RateLimited,
    SourceError,
)
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.http.errors import parse_retry_after, raise_for_status
from connectors.http.fetch import fetch_url
from connectors.http.response import HttpResponse
from connectors.mastodon.post import JSON, parse_time, to_posts

__all__ = ["MastodonTagConnector"]

log = logging.getLogger(__name__)

PAGE_SIZE = 40  # the API's maximum `limit` for timelines
MAX_PAGES = 5  # requests per fetch run: 200 statuses at most
_CURSOR = "min_id:"
_MAX_WAIT = timedelta(days=7)  # a reset header further out than this is not believed
_TOKEN_HINT = "MASTODON_TOKEN"


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one source's timeline lives and how to ask for it."""

    source_key: str
    instance: str  # "https://host"
    tag: str
    token_env: str  # "" when the source uses no token
    headers: Mapping[str, str]

    @property
    def host(self) -> str:
        """The instance's host name, as admins know it."""
        return urlsplit(self.instance).netloc

    def url(self, **params: str | int) -> str:
        """The tag timeline URL with `limit` and the given page parameters."""
        path = f"{self.instance}/api/v1/timelines/tag/{quote(self.tag, safe='')}"
        return f"{path}?{urlencode({'limit': PAGE_SIZE, **params})}"


@dataclass(frozen=True, slots=True)
class _Walk:
    """What the pages of one run gave: raw statuses, newest first per page."""

    statuses: tuple[JSON, ...]
    problem: str | None


class MastodonTagConnector:
    """Fetches the public timeline of one hashtag on one Mastodon instance.

    Options: `instance` ("https://host"), `tag` (without '#'), and
    optionally `token_env`, the environment variable holding an access token
    (scope read:statuses) for instances that refuse anonymous readers.
    `max_pages` caps the requests of one fetch run.
    """

    kind: ClassVar[str] = "mastodon_tag"

    def __init__(self, ctx: ConnectorContext, *, max_pages: int = MAX_PAGES) -> None:
        self._ctx = ctx
        self._max_pages = max(1, max_pages)

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """The statuses newer than `state.cursor` (all recent ones on a first fetch).

        Returns posts (boosts unwrapped to their original, each once, and
        each boost a repost of it), the cursor "min_id:<newest status id
        seen>" (the old one when nothing came) and a problem when a later
        page failed or statuses were malformed. Raises AuthError (401/403,
        token missing), RateLimited (429, reset time from
        X-RateLimit-Reset), FetchError (network, 404, 5xx) or ParseError
        (the first page is not a JSON list).
        """
        target = self._target(source)
        since = _read_cursor(state.cursor, source.key)
        if since is None:
            window = timedelta(hours=self._ctx.config.digest.max_window_hours)
            walk = self._walk(target, target.url(), "next", floor=self._ctx.clock() - window)
        else:
            walk = self._walk(target, target.url(min_id=since), "prev", floor=None)
        posts, skipped = to_posts(walk.statuses, target.source_key, target.host, self._ctx.clock())
        newest = max((_int_id(s) or 0 for s in walk.statuses), default=0)
        cursor = f"{_CURSOR}{newest}" if newest > (since or 0) else state.cursor
        problems = [p for p in (walk.problem, _skipped_message(skipped)) if p]
        return FetchResult(posts=posts, cursor=cursor, problem="; ".join(problems) or None)

    def check(self, source: SourceConfig) -> list[str]:
        """One request (the tag timeline, limit=1): does the instance answer,
        and can this source read the tag? [] when it can; else one-line
        problems (never raises for a source problem)."""
        try:
            target = self._target(source)
            statuses, _ = self._page(target, target.url(limit=1))
        except SourceError as exc:
            return [exc.message]
        if statuses:
            return []
        hint = "" if target.token_env else " (a token may help: set token_env)"
        return [
            f"#{target.tag} on {target.host} answered with no posts: the tag has none yet, "
            f"or the instance has turned its hashtag feeds off for this reader{hint}"
        ]

    # --- requests ------------------------------------------------------------

    def _target(self, source: SourceConfig) -> _Target:
        """The source's instance, tag and headers; AuthError if its token is unset."""
        instance = source.option("instance").rstrip("/")
        tag = source.option("tag").lstrip("#")
        if not instance or not tag:
            raise FetchError(source.key, "a mastodon_tag source needs both instance and tag")
        token_env = source.option("token_env")
        headers = {"Accept": "application/json"}
        if token_env:
            secret = self._ctx.config.secret(token_env)
            if secret is None:
                raise AuthError(
                    source.key,
                    f"token_env names {token_env}, which is not set: "
                    f"set {token_env} to the instance access token",
                )
            headers["Authorization"] = f"Bearer {secret.reveal()}"
        return _Target(source.key, instance, tag, token_env, headers)

    def _walk(self, target: _Target, url: str, rel: str, floor: datetime | None) -> _Walk:
        """Read pages from `url` following `rel`, up to the page cap.

        Stops on an empty page, a missing link, a link that does not move on
        (loop guard) or a page reaching back before `floor` (a first fetch
        needs no more than the digest window). A failing page after the
        first ends the walk with a problem.
        """
        statuses: list[JSON] = []
        for page in range(self._max_pages):
            try:
                batch, links = self._page(target, url)
            except SourceError as exc:
                if page == 0:
                    raise
                return _Walk(
                    tuple(statuses),
                    f"page {page + 1} failed ({exc.message}); "
                    f"kept the {len(statuses)} statuses before it",
                )
            statuses += batch
            following = _follow(target, links, rel, url)
            if not batch or following is None or _older_than(batch, floor):
                break
            url = following
        else:
            log.info("%s: stopped after %d pages (the cap)", target.source_key, self._max_pages)
        return _Walk(tuple(statuses), None)

    def _page(self, target: _Target, url: str) -> tuple[list[JSON], dict[str, str]]:
        """GET one page: its statuses and its Link targets by rel."""
        limits = self._ctx.config.fetch
        response = fetch_url(
            self._ctx.session,
            url,
            timeout_s=limits.timeout_seconds,
            max_bytes=limits.max_body_bytes,
            max_redirects=limits.max_redirects,
            allow_private=limits.allow_private,
            headers=target.headers,
            source_key=target.source_key,
        )
        _raise_for_status(target, response, self._ctx.clock())
        links = {
            link["rel"]: link["url"]
            for link in parse_header_links(response.headers.get("link", ""))
            if "rel" in link and "url" in link
        }
        return _statuses(target.source_key, response.body), links


# --- responses -----------------------------------------------------------------


def _raise_for_status(target: _Target, response: HttpResponse, now: datetime) -> None:
    """Mastodon's meaning of 401/403/404/429; other statuses as `_http` maps them."""
    status, key, host = response.status, target.source_key, target.host
    env = target.token_env
    if status == 401 and env:
        raise AuthError(
            key,
            f"{host} refused the access token in {env} (401): create a new one "
            f"on {host} under Preferences > Development with the read:statuses "
            f"scope and set {env}",
        )
    if status == 401:
        raise AuthError(
            key,
            f"{host} requires a token to read hashtag timelines (401): create one "
            f"under Preferences > Development with the read:statuses scope, put it "
            f"in an environment variable (e.g. {_TOKEN_HINT}) and name it in this "
            "source's token_env",
        )
    if status == 403:
        who = f"the token in {env}" if env else "anonymous readers"
        raise AuthError(
            key,
            f"{host} refuses {who} (403): the token needs the read:statuses "
            "scope, and its account must be active",
        )
    if status == 404:
        raise FetchError(
            key, f"no such tag or instance path (404) on {host}: check instance and tag"
        )
    if status == 429:
        when = _reset_time(response.headers, now)
        until = f" at {when:%Y-%m-%d %H:%M:%S} UTC" if when else ""
        raise RateLimited(
            key, f"rate limited by {host} (429); will retry when the limit resets{until}", when
        )
    raise_for_status(key, response, now)


def _reset_time(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When a 429 ends: Retry-After if sent, else X-RateLimit-Reset (ISO 8601,
    not epoch seconds); never before `now`, at most 7 days on."""
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after
    reset = parse_time(headers.get("x-ratelimit-reset"))
    if reset is None:
        return None
    return min(max(reset, now), now + _MAX_WAIT)


def _statuses(source_key: str, body: bytes) -> list[JSON]:
    """The page's statuses; ParseError unless the body is a JSON list."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # bad JSON or encoding; absurd nesting
        raise ParseError(
            source_key, "the instance sent malformed JSON, not a list of statuses"
        ) from exc
    if not isinstance(data, list):
        raise ParseError(
            source_key, "the instance did not send a list of statuses (is this a Mastodon API?)"
        )
    return data


def _follow(target: _Target, links: Mapping[str, str], rel: str, current: str) -> str | None:
    """The next page's URL on our instance, or None to stop.

    Only the page id (`max_id` going back, `min_id` going forward) is read
    from the link; a link that does not move past the current page stops
    the walk, so a server repeating itself cannot loop us.
    """
    param = "max_id" if rel == "next" else "min_id"
    wanted = _query_id(links.get(rel, ""), param)
    if wanted is None:
        return None
    now_at = _query_id(current, param)
    moved_on = now_at is None or (wanted < now_at if rel == "next" else wanted > now_at)
    if not moved_on:
        log.warning("%s: the instance's %s link does not move on; stopped", target.source_key, rel)
        return None
    return target.url(**{param: wanted})


def _query_id(url: str, param: str) -> int | None:
    """The numeric query parameter `param` of `url`, or None."""
    values = parse_qs(urlsplit(url).query).get(param, [])
    return _number(values[0]) if values else None


def _older_than(batch: list[JSON], floor: datetime | None) -> bool:
    """Whether the page reaches back before `floor` (None: never)."""
    if floor is None:
        return False
    dates = (parse_time(s.get("created_at")) for s in batch if isinstance(s, dict))
    return any(when is not None and when < floor for when in dates)


def _read_cursor(cursor: str | None, source_key: str) -> int | None:
    """The newest status id seen, from "min_id:<id>"; None for a first fetch."""
    if not cursor:
        return None
    value = _number(cursor.removeprefix(_CURSOR)) if cursor.startswith(_CURSOR) else None
    if value is not None:
        return value
    log.warning("%s: ignoring a cursor this connector did not write: %r", source_key, cursor)
    return None


def _int_id(status: object) -> int | None:
    """A status's id as an integer (ids are strings; compare them as numbers)."""
    raw = status.get("id") if isinstance(status, dict) else None
    return _number(raw) if isinstance(raw, str) else None


def _number(text: str) -> int | None:
    """`text` as a non-negative integer if it is ASCII digits only, else None."""
    return int(text) if text.isascii() and text.isdigit() else None


def _skipped_message(skipped: int) -> str | None:
    return f"skipped {skipped} malformed statuses" if skipped else None

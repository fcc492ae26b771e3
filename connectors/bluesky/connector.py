"""The `bluesky_search` connector: `app.bsky.feed.searchPosts` over XRPC
(https://docs.bsky.app/docs/api/app-bsky-feed-search-posts), with plain
`requests` on the guarded session so tests replay it.

Search needs a login in practice (403 without one since 2025-01-21), and
`createSession` allows about 10 logins a day per account
(https://docs.bsky.app/docs/advanced-guides/rate-limits). So a handle logs in
once and its session, kept in the context's `logins` for the life of the
process, is shared by every source with that handle and refreshed with
`refreshSession` when the access token expires. A login limit is remembered
until the time Bluesky names, then a login is tried again; a refused password
is given to the run's other sources of that handle by the credential gate, and
tried again next run. The JWTs live only in memory; they never reach a cursor,
a message, a log line or a post.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from aggregator.domain.errors import (
    AuthError,
    FetchError,
    ParseError,
    RateLimited,
    SourceError,
)
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext, Login
from connectors.bluesky.post import parse_time, to_post
from connectors.http.errors import map_errors, parse_retry_after, raise_for_status
from connectors.http.fetch import fetch_url
from connectors.http.response import HttpResponse

__all__ = ["BlueskySearchConnector"]

log = logging.getLogger(__name__)

# The entryway: it logs in and proxies searchPosts to the AppView. The AppView
# hosts (api.bsky.app) "do not support authentication" (bsky-docs rate-limits).
XRPC = "https://bsky.social/xrpc/"
PAGE_SIZE = 25
MAX_PAGES = 4  # per fetch: 100 posts; a busy query waits for the next run
_CURSOR = "since:"
# XRPC error names that mean "this access token no longer works"
# (com.atproto.server.refreshSession and the PDS auth verifier).
_STALE = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})


class BlueskySearchConnector:
    """Fetches the newest posts matching a source's `query`, logged in as the
    account its `handle_env` / `app_password_env` name."""

    kind: ClassVar[str] = "bluesky_search"

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx
        self._logins = _Sessions(ctx)

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Posts newer than the cursor (`since:<time>`), newest first, at most
        MAX_PAGES pages. Raises AuthError (login refused, session expired),
        RateLimited (429, until RateLimit-Reset), FetchError or ParseError for
        the first page; a later page failing becomes `problem`."""
        since = _since(state.cursor)
        raws, problem = self._collect(source, since)
        now = self._ctx.clock()
        posts: dict[str, Post] = {}
        skipped = 0
        for raw in raws:
            if since is not None and _is_old(raw, since):
                continue
            try:
                post = to_post(raw, source.key, now)
            except ValueError:
                skipped += 1
                continue
            posts.setdefault(post.external_id, post)  # pages may overlap
        if skipped:
            log.warning("%s: skipped %d malformed Bluesky post(s)", source.key, skipped)
            problem = problem or f"skipped {skipped} malformed post(s) in the search results"
        newest = max((t for t in map(_sort_at, raws) if t is not None), default=None)
        if newest is None or (since is not None and newest <= since):
            return FetchResult(posts=tuple(posts.values()), cursor=state.cursor, problem=problem)
        return FetchResult(
            posts=tuple(posts.values()), cursor=_CURSOR + _iso(newest), problem=problem
        )

    def check(self, source: SourceConfig) -> list[str]:
        """Log in (once per handle) and search with limit=1; [] when it works."""
        try:
            self._page(source, {"q": source.option("query"), "limit": "1", "sort": "latest"})
        except SourceError as exc:
            return [exc.message]
        return []

    def _collect(
        self, source: SourceConfig, since: datetime | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The raw postViews of up to MAX_PAGES pages, stopping at known posts."""
        params = {"q": source.option("query"), "limit": str(PAGE_SIZE), "sort": "latest"}
        if since is not None:
            params["since"] = _iso(since)  # inclusive, on sortAt (lexicon)
        raws: list[dict[str, Any]] = []
        for number in range(1, MAX_PAGES + 1):
            try:
                page = self._page(source, params)
            except SourceError as exc:
                if number == 1:
                    raise
                return raws, f"page {number} of the search failed: {exc.message}"
            posts = [p for p in page["posts"] if isinstance(p, dict)]
            raws.extend(posts)
            cursor = page.get("cursor")
            reached_known = since is not None and any(_is_old(p, since) for p in posts)
            if (
                not posts
                or reached_known
                or not isinstance(cursor, str)
                or cursor == params.get("cursor")
            ):
                return raws, None
            params["cursor"] = cursor
        log.info("%s: stopped after %d Bluesky pages (MAX_PAGES)", source.key, MAX_PAGES)
        return raws, None

    def _page(self, source: SourceConfig, params: dict[str, str]) -> dict[str, Any]:
        """One searchPosts page; refreshes the session once if the token expired."""
        token = self._logins.access_token(source)
        response = self._get(source, params, token)
        if _is_stale(response):
            token = self._logins.refresh(source, token)
            response = self._get(source, params, token)
        _raise_for_search(source, response, self._ctx.clock())
        data = _json_object(source.key, response.body, "search results")
        if not isinstance(data.get("posts"), list):
            raise ParseError(source.key, "Bluesky search results have no posts list")
        return data

    def _get(self, source: SourceConfig, params: dict[str, str], token: str) -> HttpResponse:
        limits = self._ctx.config.fetch
        return fetch_url(
            self._ctx.session,
            f"{XRPC}app.bsky.feed.searchPosts?{urlencode(params)}",
            timeout_s=limits.timeout_seconds,
            max_bytes=limits.max_body_bytes,
            max_redirects=limits.max_redirects,
            allow_private=limits.allow_private,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            source_key=source.key,
        )


class _Sessions:
    """Logging in and refreshing, on the handle's shared `Login`."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx

    def access_token(self, source: SourceConfig) -> str:
        """The handle's access JWT, logging in when no session is kept.

        Raises AuthError / RateLimited / FetchError when the login fails, and
        RateLimited without a call while a login limit lasts."""
        handle, password = _credentials(source, self._ctx)
        account = self._ctx.logins.account("bluesky", handle)
        with account.lock:
            now = self._ctx.clock()
            _wait_for_limit(account, source, now)
            if account.tokens is None:
                # Counted across every process logging in with this handle.
                fleet = self._ctx.limits.logins
                held = fleet.admit(f"bluesky:{handle}", now)
                if held is not None:
                    raise RateLimited(source.key, held.reason, held.until)
                try:
                    body = self._post(
                        source,
                        "com.atproto.server.createSession",
                        None,
                        {"identifier": handle, "password": password},
                    )
                except RateLimited as exc:
                    account.wait_until, account.waiting = exc.retry_after, exc.message
                    if exc.retry_after is not None:
                        fleet.hold_back(f"bluesky:{handle}", exc.retry_after, exc.message)
                    raise
                account.tokens = _tokens(source.key, body)
                log.info("%s: logged in to Bluesky (%s)", source.key, source.option("handle_env"))
            return account.tokens[0]

    def refresh(self, source: SourceConfig, stale: str) -> str:
        """A new access JWT after `stale` expired (refreshSession, no new login)."""
        handle, _ = _credentials(source, self._ctx)
        account = self._ctx.logins.account("bluesky", handle)
        with account.lock:
            if account.tokens is None:  # dropped by a failed refresh meanwhile
                raise AuthError(source.key, "Bluesky session ended; the next run logs in again")
            if account.tokens[0] != stale:  # another source refreshed it meanwhile
                return account.tokens[0]
            try:
                body = self._post(
                    source, "com.atproto.server.refreshSession", account.tokens[1], None
                )
                account.tokens = _tokens(source.key, body)
            except SourceError:
                account.tokens = None  # the next run logs in again
                raise
            return account.tokens[0]

    def _post(
        self, source: SourceConfig, nsid: str, bearer: str | None, payload: dict[str, str] | None
    ) -> bytes:
        """POST an XRPC procedure; the body of its 2xx answer, else the error."""
        timeout_s = self._ctx.config.fetch.timeout_seconds
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        with map_errors(source.key, timeout_s=timeout_s):
            reply = self._ctx.session.post(
                XRPC + nsid,
                json=payload,
                headers=headers,
                timeout=(timeout_s, timeout_s),
                allow_redirects=False,
            )
            response = HttpResponse(
                reply.status_code,
                XRPC + nsid,
                {k.lower(): v for k, v in reply.headers.items()},
                reply.content,
            )
        _raise_for_session(source, nsid, response, self._ctx.clock())
        return response.body


def _credentials(source: SourceConfig, ctx: ConnectorContext) -> tuple[str, str]:
    handle = ctx.config.secret(source.option("handle_env"))
    password = ctx.config.secret(source.option("app_password_env"))
    if handle is None or password is None:
        raise AuthError(
            source.key,
            f"Bluesky needs {source.option('handle_env')} and "
            f"{source.option('app_password_env')} set in the environment",
        )
    return handle.reveal().strip().lstrip("@").lower(), password.reveal()


def _wait_for_limit(account: Login, source: SourceConfig, now: datetime) -> None:
    """RateLimited, without a call, while the handle's login limit lasts."""
    if account.wait_until is not None and now < account.wait_until:
        raise RateLimited(source.key, account.waiting, account.wait_until)
    account.wait_until, account.waiting = None, ""


def _tokens(source_key: str, body: bytes) -> tuple[str, str]:
    data = _json_object(source_key, body, "the session")
    access, refresh = data.get("accessJwt"), data.get("refreshJwt")
    if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
        raise ParseError(source_key, "Bluesky session has no access or refresh token")
    return access, refresh


def _raise_for_session(
    source: SourceConfig, nsid: str, response: HttpResponse, now: datetime
) -> None:
    """Map a createSession/refreshSession failure to a SourceError."""
    status = response.status
    if status < 300:
        return
    is_login = nsid.endswith("createSession")
    if status == 429:
        what = "Bluesky login limit reached" if is_login else "Bluesky rate limit reached"
        raise _rate_limited(source.key, what, response, now)
    renew = (
        f"check {source.option('handle_env')} and {source.option('app_password_env')} "
        "(an app password from Settings > Privacy and security > App passwords)"
    )
    if status in (400, 401, 403) and is_login:
        raise AuthError(source.key, f"Bluesky login refused ({status}): {renew}")
    if status in (400, 401, 403):
        raise AuthError(
            source.key,
            f"Bluesky session expired and could not be refreshed "
            f"({status} {_error_name(response)}); the next run logs in again; "
            f"if it persists, {renew}",
        )
    raise_for_status(source.key, response, now)


def _raise_for_search(source: SourceConfig, response: HttpResponse, now: datetime) -> None:
    """Map a searchPosts failure (after at most one refresh) to a SourceError."""
    status = response.status
    if status < 300:
        return
    envs = f"{source.option('handle_env')} and {source.option('app_password_env')}"
    if status == 429:
        raise _rate_limited(source.key, "Bluesky rate limit reached", response, now)
    if _is_stale(response):
        raise AuthError(
            source.key,
            f"Bluesky refused the session even after a refresh "
            f"({status} {_error_name(response)}): check {envs}",
        )
    if status == 403:
        raise AuthError(
            source.key,
            "Bluesky refused the search (403): searchPosts needs a "
            f"logged-in session on bsky.social; check {envs}",
        )
    if status == 400:
        raise FetchError(
            source.key,
            f"Bluesky refused the search (400 {_error_name(response)}: "
            f"{_error_message(response)}); check the query",
        )
    raise_for_status(source.key, response, now)


def _rate_limited(source_key: str, what: str, response: HttpResponse, now: datetime) -> RateLimited:
    """RateLimited until RateLimit-Reset (epoch seconds), else Retry-After."""
    reset = response.headers.get("ratelimit-reset", "").strip()
    delay = str(max(0, int(reset) - int(now.timestamp()))) if reset.isdigit() else None
    retry_at = parse_retry_after(delay or response.headers.get("retry-after"), now)
    when = f"until {retry_at:%Y-%m-%d %H:%M} UTC" if retry_at else "for now"
    return RateLimited(source_key, f"{what} (429); waiting {when}", retry_at)


def _is_stale(response: HttpResponse) -> bool:
    return response.status == 401 or (response.status == 400 and _error_name(response) in _STALE)


def _xrpc_error(response: HttpResponse) -> dict[str, Any]:
    try:
        return _json_object("", response.body, "")
    except ParseError:
        return {}


def _error_name(response: HttpResponse) -> str:
    name = _xrpc_error(response).get("error")
    return name if isinstance(name, str) and name.isalnum() else "error"


def _error_message(response: HttpResponse) -> str:
    message = _xrpc_error(response).get("message")
    lines = message.splitlines() if isinstance(message, str) else []
    return lines[0][:200] if lines else "no message"


def _json_object(source_key: str, body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(source_key, f"Bluesky sent malformed JSON for {what}") from exc
    if not isinstance(data, dict):
        raise ParseError(
            source_key, f"Bluesky sent {type(data).__name__} instead of an object for {what}"
        )
    return data


def _since(cursor: str | None) -> datetime | None:
    if not cursor or not cursor.startswith(_CURSOR):
        return None
    return parse_time(cursor[len(_CURSOR) :])


def _sort_at(raw: dict[str, Any]) -> datetime | None:
    """The earlier of createdAt and indexedAt: what the AppView sorts and
    filters `since` on (sortAt), so a future createdAt cannot mask new posts."""
    record = raw.get("record")
    created = parse_time(record.get("createdAt")) if isinstance(record, dict) else None
    times = [t for t in (created, parse_time(raw.get("indexedAt"))) if t is not None]
    return min(times) if times else None


def _is_old(raw: dict[str, Any], since: datetime) -> bool:
    when = _sort_at(raw)
    return when is not None and when <= since


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- postView -> Post (the one adapter) ----------------------

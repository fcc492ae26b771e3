"""The `facebook_page` and `facebook_group` connectors: posts from the Graph
API through facebook-sdk 3.1.0 (docs/api-notes.md §2).

facebook-sdk only knows Graph versions up to 3.1 and refuses a newer one in
its constructor, so the client is built with its default and the configured
version (e.g. "v24.0") is then set on `graph.version`, which every request
path reads. Its requests run on the connector context's session, through a
thin wrapper that caps the body and keeps the last response: `GraphAPIError`
drops the HTTP status and the usage headers the error mapping needs.

The SDK sends the access token as a query parameter, so it appears in
request URLs: no URL is ever put in a message, and every message is scrubbed
of the token before it leaves this module.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

from aggregator.domain.errors import (
    AuthError,
    FetchError,
    ParseError,
    RateLimited,
    SourceError,
)
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.facebook.post import short_message, to_posts
from connectors.http.errors import map_errors, parse_retry_after, raise_for_status
from connectors.http.response import HttpResponse

with warnings.catch_warnings():
    # facebook-sdk 3.1.0 compiles a regex from a non-raw string ("\d"): when
    # no .pyc is cached, importing it warns (and fails under -W error).
    warnings.filterwarnings("ignore", message=r"invalid escape sequence", category=SyntaxWarning)
    warnings.filterwarnings(
        "ignore", message=r"invalid escape sequence", category=DeprecationWarning
    )
    import facebook

__all__ = ["FacebookGroupConnector", "FacebookPageConnector"]

log = logging.getLogger(__name__)

FIELDS = (
    "id,message,created_time,updated_time,permalink_url,full_picture,from,"
    "attachments{media_type,url,title,description,media},shares,"
    "reactions.summary(total_count).limit(0),comments.summary(true).limit(0)"
)
PAGE_SIZE = 25
"""Posts asked for per request (Page edges return at most 100)."""
MAX_PAGES = 4
"""Requests per fetch at most: a first fetch reads the newest 100 posts."""
CURSOR_PREFIX = "since:"
"""Cursor format: "since:<unix seconds of the newest post seen>"."""

_RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, 80001})
_TOKEN_CODES = frozenset({102, 190})
_PERMISSION_CODES = frozenset({10, 100, *range(200, 300)})
_DEFAULT_WAIT_S = 3600  # no usage header says how long: wait an hour
_USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-page-usage")
_GROUPS_GONE = (
    "Facebook removed third-party access to group feeds on 2024-04-22; follow this group "
    "through an email_inbox source receiving its notification emails instead"
)


class _GraphSession:
    """What `GraphAPI` gets as its session: the shared session with the body
    capped at `max_bytes`, remembering the last response it returned."""

    def __init__(self, session: requests.Session, max_bytes: int, source_key: str) -> None:
        self._session = session
        self._max_bytes = max_bytes
        self._source_key = source_key
        self.last: requests.Response | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send like `requests.Session.request`, reading at most `max_bytes`.

        Raises FetchError when the body is larger.
        """
        response = self._session.request(method, url, stream=True, **kwargs)
        self.last = response
        chunks, total = [], 0
        with response:
            for chunk in response.iter_content(64 * 1024):
                total += len(chunk)
                if total > self._max_bytes:
                    raise FetchError(
                        self._source_key, "Facebook's answer is larger than fetch.max_body_bytes"
                    )
                chunks.append(chunk)
        # The body is already read; hand it to requests as if it had read it.
        response._content = b"".join(chunks)
        return response


class _FacebookConnector:
    """Reads one Graph edge (`_edge` of the node named by option `_id_option`)
    with the `[facebook]` token and version."""

    kind: ClassVar[str]
    _edge: ClassVar[str]
    _id_option: ClassVar[str]

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Fetch the posts newer than the cursor's time (all recent ones at
        first), following `paging.next` up to MAX_PAGES requests.

        Returns the posts and the new cursor ("since:<unix time>"); a later
        page failing or a malformed post sets `problem`. Raises AuthError
        (token missing, expired, or refused), RateLimited (retry_after from
        the usage headers, else an hour), FetchError (network, 5xx, 404) or
        ParseError (not JSON, no `data` list).
        """
        since = _since(state.cursor)
        graph, wire = self._graph(source.key)
        items, page_problem = self._collect(graph, wire, source, since)
        posts, skipped = to_posts(items, source, self._ctx.clock())
        newest = max((int(p.published_at.timestamp()) for p in posts), default=None)
        cursor = state.cursor
        # After a failed page the posts between `since` and the kept ones
        # are missing: keep the old cursor so the next run asks for them.
        if newest is not None and page_problem is None:
            cursor = f"{CURSOR_PREFIX}{max(newest, since or 0)}"
        malformed = f"skipped {skipped} malformed post(s)" if skipped else None
        problem = "; ".join(p for p in (page_problem, malformed) if p) or None
        return FetchResult(posts=tuple(posts), cursor=cursor, problem=problem)

    def check(self, source: SourceConfig) -> list[str]:
        """Ask for the node's id and name once: [] when the token can read
        it, else the one-line reason."""
        try:
            graph, wire = self._graph(source.key)
            path, args = self._probe(source.option(self._id_option))
            self._call(graph, wire, source.key, path, args)
        except SourceError as exc:
            return [exc.message]
        return []

    def _probe(self, node: str) -> tuple[str, dict[str, Any]]:
        """The one cheap request `check` sends: the node's id and name."""
        return node, {"fields": "id,name"}

    def _graph(self, source_key: str) -> tuple[Any, _GraphSession]:
        """A GraphAPI client on the configured version, and its session."""
        settings = self._ctx.config.facebook
        if settings.access_token is None:
            raise AuthError(
                source_key,
                "no Facebook access token: set [facebook] "
                "access_token_env and that environment variable",
            )
        limits = self._ctx.config.fetch
        wire = _GraphSession(self._ctx.session, limits.max_body_bytes, source_key)
        timeout = (limits.timeout_seconds, limits.timeout_seconds)
        graph = facebook.GraphAPI(
            access_token=settings.access_token.reveal(), timeout=timeout, session=wire
        )
        # The constructor only accepts versions up to "3.1"; the attribute is
        # what every request path reads (docs/api-notes.md §2, "Workaround").
        graph.version = settings.graph_version
        return graph, wire

    def _collect(
        self, graph: Any, wire: _GraphSession, source: SourceConfig, since: int | None
    ) -> tuple[list[Any], str | None]:
        """The raw posts of up to MAX_PAGES pages, and a problem when a later
        page failed (the first page's failure is raised)."""
        node = source.option(self._id_option)
        args: dict[str, Any] = {"fields": FIELDS, "limit": str(PAGE_SIZE)}
        if since is not None:
            args["since"] = str(since)
        items: list[Any] = []
        seen: set[str] = set()
        for number in range(1, MAX_PAGES + 1):
            try:
                page = self._call(graph, wire, source.key, f"{node}/{self._edge}", args)
                data, next_url = _page_parts(page, source.key)
            except SourceError as exc:
                if number == 1:
                    raise
                return items, (
                    f"page {number} failed: {exc.message}; "
                    f"kept the {len(items)} post(s) of earlier pages"
                )
            items.extend(data)
            if not data or not next_url:
                break
            key = _without_token(next_url)
            if key in seen:  # a link already followed would loop until the cap
                log.warning("%s: Facebook repeated a paging link; stopping", source.key)
                break
            seen.add(key)
            args = _next_args(next_url)
            if since is not None:  # time-based next links may carry an empty `since`
                args.setdefault("since", str(since))
        return items, None

    def _call(
        self, graph: Any, wire: _GraphSession, source_key: str, path: str, args: dict[str, Any]
    ) -> Any:
        """GET `path` (relative to the version) and return the decoded JSON.

        Every SourceError raised here has the token scrubbed from its message.
        """
        limits = self._ctx.config.fetch
        with self._scrubbed(), map_errors(source_key, timeout_s=limits.timeout_seconds):
            try:
                return graph.request(f"{graph.version}/{path}", dict(args))
            except facebook.GraphAPIError as exc:
                raise self._translate(exc, wire.last, source_key) from exc
            except (ValueError, KeyError) as exc:
                # ValueError: malformed JSON (requests' JSONDecodeError is
                # also a RequestException, so it must be caught before
                # map_errors sees it); KeyError: no content-type header.
                raise ParseError(source_key, "Facebook sent a malformed answer (not JSON)") from exc

    def _translate(
        self, exc: Any, response: requests.Response | None, source_key: str
    ) -> SourceError:
        """The SourceError a GraphAPIError means (docs/api-notes.md §2, "Errors")."""
        error = exc.result.get("error") if isinstance(exc.result, dict) else None
        status = response.status_code if response is not None else 0
        if not isinstance(error, dict):
            return self._translate_status(response, source_key)
        code = error.get("code")
        subcode = error.get("error_subcode")
        if code in _TOKEN_CODES:
            return AuthError(source_key, _token_message(self._ctx, code, subcode))
        if code in _RATE_LIMIT_CODES or error.get("is_transient") is True:
            retry_at = _retry_at(response, self._ctx.clock())
            return RateLimited(
                source_key, f"Facebook rate limit reached (#{code}); will retry later", retry_at
            )
        if code in _PERMISSION_CODES or status == 403:
            return AuthError(source_key, self._refusal(code))
        return FetchError(
            source_key,
            f"Facebook refused the request (#{code}): "
            f"{short_message(str(error.get('message', '')))}",
        )

    def _translate_status(self, response: requests.Response | None, source_key: str) -> SourceError:
        """For an answer without a Graph error object: map its HTTP status."""
        if response is None or response.status_code < 400:
            return ParseError(source_key, "Facebook sent an answer that is not JSON")
        if response.status_code == 403:
            return AuthError(source_key, self._refusal(None))
        headers = {k.lower(): v for k, v in response.headers.items()}
        try:
            raise_for_status(
                source_key, HttpResponse(response.status_code, "", headers, b""), self._ctx.clock()
            )
        except SourceError as mapped:
            return mapped
        return FetchError(source_key, f"unexpected answer ({response.status_code})")

    def _refusal(self, code: int | None) -> str:
        """What a permission refusal means for this kind of node."""
        label = f"#{code}" if code is not None else "403"
        return (
            f"Facebook refused to read this page ({label}): check page_id, and that the "
            "token has pages_read_engagement (a Page you manage) or the app has the "
            "Page Public Content Access feature (other public Pages)"
        )

    @contextmanager
    def _scrubbed(self) -> Iterator[None]:
        """Re-raise any SourceError with the token removed from its message."""
        try:
            yield
        except SourceError as exc:
            secret = self._ctx.config.facebook.access_token
            token = secret.reveal() if secret is not None else ""
            if token and _mentions(exc, token):
                message = exc.message.replace(token, "<redacted>")
                # `from None`: the chained exception holds the token (in its
                # message or request URL) and a traceback would log it.
                raise type(exc)(exc.source_key, message, exc.retry_after) from None
            raise


class FacebookPageConnector(_FacebookConnector):
    """A Facebook Page's own posts (`GET /{page_id}/posts`)."""

    kind: ClassVar[str] = "facebook_page"
    _edge: ClassVar[str] = "posts"
    _id_option: ClassVar[str] = "page_id"


class FacebookGroupConnector(_FacebookConnector):
    """A Facebook group's feed (`GET /{group_id}/feed`), for the deployments
    that kept access after Meta removed it on 2024-04-22: a refusal says so
    and points to the email_inbox alternative."""

    kind: ClassVar[str] = "facebook_group"
    _edge: ClassVar[str] = "feed"
    _id_option: ClassVar[str] = "group_id"

    def _probe(self, node: str) -> tuple[str, dict[str, Any]]:
        """One post id of the feed: reading the group node may still work
        where its feed is refused, so only the feed tells."""
        return f"{node}/{self._edge}", {"fields": "id", "limit": "1"}

    def _refusal(self, code: int | None) -> str:
        return _GROUPS_GONE


def _mentions(exc: BaseException, token: str) -> bool:
    """Whether `exc` or an exception it was raised from shows `token`."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if token in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _token_message(ctx: ConnectorContext, code: int, subcode: object) -> str:
    secret = ctx.config.facebook.access_token
    env = secret.env_name if secret is not None else "the [facebook] access_token_env variable"
    which = f"{code}/{subcode}" if isinstance(subcode, int) else f"{code}"
    return (
        f"Facebook token expired or invalid ({which}): create a new page access token and set {env}"
    )


def _retry_at(response: requests.Response | None, now: datetime) -> datetime | None:
    """When to try again: Retry-After if sent, else the longest
    `estimated_time_to_regain_access` (minutes) of the usage headers, else
    an hour from `now`."""
    headers = response.headers if response is not None else {}
    retry_at = parse_retry_after(headers.get("retry-after"), now)
    if retry_at is not None:
        return retry_at
    minutes = max((_regain_minutes(headers.get(name)) for name in _USAGE_HEADERS), default=0)
    seconds = minutes * 60 if minutes > 0 else _DEFAULT_WAIT_S
    return parse_retry_after(str(seconds), now)


def _regain_minutes(value: str | None) -> int:
    """The largest `estimated_time_to_regain_access` in a usage header's
    JSON (any nesting), 0 when absent or unreadable."""
    if not value:
        return 0
    try:
        data = json.loads(value)
    except ValueError:
        return 0
    found: list[int] = []
    todo: list[Any] = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            wait = node.get("estimated_time_to_regain_access")
            if isinstance(wait, int) and not isinstance(wait, bool):
                found.append(wait)
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return max(found, default=0)


def _since(cursor: str | None) -> int | None:
    """The unix time a cursor holds, None for no (or a foreign) cursor."""
    if cursor and cursor.startswith(CURSOR_PREFIX):
        value = cursor.removeprefix(CURSOR_PREFIX)
        if value.isdigit():
            return int(value)
    return None


def _page_parts(page: Any, source_key: str) -> tuple[list[Any], str | None]:
    """A page's `data` list and its `paging.next` URL; ParseError if the
    page has no data list."""
    data = page.get("data") if isinstance(page, dict) else None
    if not isinstance(data, list):
        raise ParseError(source_key, "Facebook's answer has no list of posts")
    paging = page.get("paging")
    next_url = paging.get("next") if isinstance(paging, dict) else None
    return data, next_url if isinstance(next_url, str) and next_url else None


def _next_args(next_url: str) -> dict[str, Any]:
    """The query of a `paging.next` URL, without its access token.

    Only the parameters are reused, sent to our own version and edge on
    graph.facebook.com, so the token never goes to a host the link names
    (what facebook-sdk's get_all_connections does too).
    """
    args: dict[str, Any] = parse_qs(urlsplit(next_url).query)
    args.pop("access_token", None)
    return args


def _without_token(url: str) -> str:
    parts = urlsplit(url)
    query = sorted(
        (k, v) for k, vs in parse_qs(parts.query).items() if k != "access_token" for v in vs
    )
    return f"{parts.path}?{query}"

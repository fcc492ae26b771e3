"""The `bluesky_search` connector: `app.bsky.feed.searchPosts` over XRPC
(API-NOTES §4), with plain `requests` on the guarded session so tests replay it.

Search needs a login in practice (403 without one since 2025-01-21), and
`createSession` allows about 10 logins a day per account. So each handle logs
in at most once per connector instance (one `pln` run), the session is shared
by every source with that handle and refreshed with `refreshSession` when the
access token expires, and a failed login is never retried in the same run:
every source of that handle gets the same error. The JWTs live only in this
process; they never reach a cursor, a message, a log line or a post.
"""

from __future__ import annotations

import hashlib
import html as _html
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from aggregator.errors import AuthError, FetchError, ParseError, RateLimited, SourceError
from aggregator.models import Engagement, FetchResult, FetchState, Post, SourceConfig
from aggregator.sanitize import plain_text, sanitize_html
from connectors._http import HttpResponse, fetch_url, map_errors, parse_retry_after, raise_for_status
from connectors.base import ConnectorContext
from connectors.feeditem import web_url

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
        self._logins = _Logins(ctx)

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
        return FetchResult(posts=tuple(posts.values()), cursor=_CURSOR + _iso(newest), problem=problem)

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
            if not posts or reached_known or not isinstance(cursor, str) or cursor == params.get("cursor"):
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
            self._ctx.session, f"{XRPC}app.bsky.feed.searchPosts?{urlencode(params)}",
            timeout_s=limits.timeout_seconds, max_bytes=limits.max_body_bytes,
            max_redirects=limits.max_redirects, allow_private=limits.allow_private,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            source_key=source.key,
        )  # fmt: skip


@dataclass
class _Account:
    """One Bluesky login, shared by every source with the same handle.

    `tokens` is (accessJwt, refreshJwt): secrets. `failure` is the error of a
    refused login or refresh, replayed to every later source of the handle.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: tuple[str, str] | None = None
    failure: SourceError | None = None


class _Logins:
    """Sessions per handle for one connector instance (fetches run in threads)."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()

    def access_token(self, source: SourceConfig) -> str:
        """The handle's access JWT, logging in if this run has not yet.

        Raises AuthError / RateLimited / FetchError when the login fails, now
        or earlier in this run (never a second createSession per handle)."""
        handle, password = _credentials(source, self._ctx)
        with self._lock:
            account = self._accounts.setdefault(handle, _Account())
        with account.lock:
            _replay_failure(account, source)
            if account.tokens is None:
                try:
                    body = self._post(source, "com.atproto.server.createSession", None,
                                      {"identifier": handle, "password": password})
                    account.tokens = _tokens(source.key, body)
                except SourceError as exc:
                    account.failure = exc
                    raise
                log.info("%s: logged in to Bluesky (%s)", source.key, source.option("handle_env"))
            return account.tokens[0]

    def refresh(self, source: SourceConfig, stale: str) -> str:
        """A new access JWT after `stale` expired (refreshSession, no new login)."""
        handle, _ = _credentials(source, self._ctx)
        with self._lock:
            account = self._accounts[handle]
        with account.lock:
            _replay_failure(account, source)
            assert account.tokens is not None  # set by access_token, cleared only with failure
            if account.tokens[0] != stale:  # another source refreshed it meanwhile
                return account.tokens[0]
            try:
                body = self._post(source, "com.atproto.server.refreshSession", account.tokens[1], None)
                account.tokens = _tokens(source.key, body)
            except SourceError as exc:
                account.tokens, account.failure = None, exc
                raise
            return account.tokens[0]

    def _post(
        self, source: SourceConfig, nsid: str, bearer: str | None, payload: dict[str, str] | None
    ) -> bytes:
        """POST an XRPC procedure; the body of its 2xx answer, else the error."""
        timeout_s = self._ctx.config.fetch.timeout_seconds
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        with map_errors(source.key, timeout_s=timeout_s):
            reply = self._ctx.session.post(XRPC + nsid, json=payload, headers=headers,
                                           timeout=(timeout_s, timeout_s), allow_redirects=False)
            response = HttpResponse(reply.status_code, XRPC + nsid,
                                    {k.lower(): v for k, v in reply.headers.items()}, reply.content)
        _raise_for_session(source, nsid, response, self._ctx.clock())
        return response.body


def _credentials(source: SourceConfig, ctx: ConnectorContext) -> tuple[str, str]:
    handle = ctx.config.secret(source.option("handle_env"))
    password = ctx.config.secret(source.option("app_password_env"))
    if handle is None or password is None:
        raise AuthError(source.key, f"Bluesky needs {source.option('handle_env')} and "
                                    f"{source.option('app_password_env')} set in the environment")
    return handle.reveal().strip().lstrip("@").lower(), password.reveal()


def _replay_failure(account: _Account, source: SourceConfig) -> None:
    failure = account.failure
    if failure is not None:
        raise type(failure)(source.key, failure.message, failure.retry_after)


def _tokens(source_key: str, body: bytes) -> tuple[str, str]:
    data = _json_object(source_key, body, "the session")
    access, refresh = data.get("accessJwt"), data.get("refreshJwt")
    if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
        raise ParseError(source_key, "Bluesky session has no access or refresh token")
    return access, refresh


def _raise_for_session(source: SourceConfig, nsid: str, response: HttpResponse, now: datetime) -> None:
    """Map a createSession/refreshSession failure to a SourceError."""
    status = response.status
    if status < 300:
        return
    is_login = nsid.endswith("createSession")
    if status == 429:
        what = "Bluesky login limit reached" if is_login else "Bluesky rate limit reached"
        raise _rate_limited(source.key, what, response, now)
    renew = (f"check {source.option('handle_env')} and {source.option('app_password_env')} "
             "(an app password from Settings > Privacy and security > App passwords)")
    if status in (400, 401, 403) and is_login:
        raise AuthError(source.key, f"Bluesky login refused ({status}): {renew}")
    if status in (400, 401, 403):
        raise AuthError(source.key, f"Bluesky session expired and could not be refreshed "
                                    f"({status} {_error_name(response)}); the next run logs in again; "
                                    f"if it persists, {renew}")
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
        raise AuthError(source.key, f"Bluesky refused the session even after a refresh "
                                    f"({status} {_error_name(response)}): check {envs}")
    if status == 403:
        raise AuthError(source.key, "Bluesky refused the search (403): searchPosts needs a "
                                    f"logged-in session on bsky.social; check {envs}")
    if status == 400:
        raise FetchError(source.key, f"Bluesky refused the search (400 {_error_name(response)}: "
                                     f"{_error_message(response)}); check the query")
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
        raise ParseError(source_key, f"Bluesky sent {type(data).__name__} instead of an object for {what}")
    return data


def _since(cursor: str | None) -> datetime | None:
    if not cursor or not cursor.startswith(_CURSOR):
        return None
    return parse_time(cursor[len(_CURSOR):])


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
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- postView -> Post (the one adapter, STYLE.md §2) ----------------------

_POST_COLLECTION = "app.bsky.feed.post"
_BARE_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")
_SCHEME = re.compile(r"^https?://(?:www\.)?", re.IGNORECASE)
_HLS = "application/x-mpegURL"  # video#view `playlist` is an HLS playlist


@dataclass
class _Body:
    """A post's content as it is assembled: inline text and HTML from the
    record, `blocks` (text, html) from its embeds, the links and media."""

    text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    image_url: str | None = None
    media_url: str | None = None
    media_type: str | None = None


def to_post(raw: dict[str, Any], source_key: str, now: datetime) -> Post:
    """Turn one `app.bsky.feed.defs#postView` into a Post (network "bluesky").

    Text has link facets expanded (UTF-8 byte ranges), embeds become the image,
    video, shared link or quoted post; the date is record.createdAt (else
    indexedAt, else `now`), never later than `now`. Raises ValueError when the
    view has no post uri, author or text.
    """
    uri, record, author = _text(raw, "uri"), _obj(raw, "record"), _obj(raw, "author")
    handle, url = _text(author, "handle"), _web_url(uri, _text(author, "handle"))
    if not url or not isinstance(record.get("text"), str):
        raise ValueError("not a post view")
    body = _Body()
    facet_tags = _rich_text(body, record["text"], _list(record, "facets"))
    _embed(body, _obj(raw, "embed"))
    html = "<p>" + "".join(body.html) + "</p>" + "".join(block for _, block in body.blocks)
    created = parse_time(record.get("createdAt")) or parse_time(raw.get("indexedAt")) or now
    name = plain_text(_text(author, "displayName"))
    langs = record.get("langs")
    return Post(
        source_key=source_key, external_id=uri, network="bluesky", url=url,
        author=f"{name} (@{handle})" if name else f"@{handle or _did(uri)}",
        author_url=f"https://bsky.app/profile/{quote(handle)}" if handle else "",
        title=None, text="".join(body.text) + "".join("\n\n" + t for t, _ in body.blocks),
        html=sanitize_html(html), published_at=min(created, now),
        engagement=Engagement(_count(raw, "likeCount"), _count(raw, "repostCount"),
                              _count(raw, "replyCount"), _count(raw, "quoteCount")),
        media_url=body.media_url, media_type=body.media_type, image_url=body.image_url,
        hashtags=_hashtags(facet_tags, record.get("tags")),
        language=langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None,
        links=tuple(dict.fromkeys(body.links)),
        content_hash=_fingerprint(raw, record),
    )  # fmt: skip


def _rich_text(body: _Body, text: str, facets: list[dict[str, Any]]) -> list[str]:
    """Add `text` to `body` with its link facets expanded; return its tag facets.

    Facet indexes are UTF-8 byte offsets (app.bsky.richtext.facet); a facet
    out of range or overlapping an earlier one leaves the text as written.
    """
    data = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    tags: list[str] = []
    for facet in facets:
        index = _obj(facet, "index")
        start, end = index.get("byteStart"), index.get("byteEnd")
        for feature in _list(facet, "features"):
            kind, link = _text(feature, "$type"), web_url(_text(feature, "uri"), "")
            if kind.endswith("#tag"):
                tags.append(_text(feature, "tag"))
            elif kind.endswith("#link") and link and isinstance(start, int) and isinstance(end, int):
                spans.append((start, end, link))
    position = 0
    for start, end, link in sorted(spans):
        if start < position or start >= end or end > len(data):
            continue
        _add_plain(body, data[position:start].decode("utf-8", "replace"))
        _add_link(body, data[start:end].decode("utf-8", "replace"), link)
        position = end
    _add_plain(body, data[position:].decode("utf-8", "replace"))
    return tags


def _add_plain(body: _Body, segment: str) -> None:
    """Plain text: escaped, line breaks kept, bare http(s) URLs linked."""
    position = 0
    for match in _BARE_URL.finditer(segment):
        body.text.append(segment[position:match.start()])
        body.html.append(_escape_lines(segment[position:match.start()]))
        _add_link(body, match.group(), match.group())
        position = match.end()
    body.text.append(segment[position:])
    body.html.append(_escape_lines(segment[position:]))


def _add_link(body: _Body, label: str, link: str) -> None:
    """A link facet: clients show a shortened URL ("example.org/pa..."), which
    becomes the full URL; any other label is kept, the URL after it."""
    shown = _SCHEME.sub("", label.strip().removesuffix("...").removesuffix("…"))
    is_url = bool(shown) and _SCHEME.sub("", link).startswith(shown)
    body.text.append(link if is_url else f"{label} ({link})")
    body.html.append(f'<a href="{_html.escape(link)}">{_html.escape(link if is_url else label)}</a>')
    body.links.append(link)


def _embed(body: _Body, embed: dict[str, Any]) -> None:
    """Images, video, a link card and a quoted post (app.bsky.embed.*#view)."""
    kind = _text(embed, "$type")
    if kind == "app.bsky.embed.recordWithMedia#view":
        _embed(body, _obj(embed, "media"))
        # `record` is a plain ref to embed.record#view: no $type to dispatch on.
        _quote(body, _obj(_obj(embed, "record"), "record"))
    elif kind == "app.bsky.embed.images#view":
        urls = (web_url(_text(i, "fullsize") or _text(i, "thumb"), "") for i in _list(embed, "images"))
        body.image_url = body.image_url or next((u for u in urls if u), None)
    elif kind == "app.bsky.embed.video#view":
        body.media_url = web_url(_text(embed, "playlist"), "") or None
        body.media_type = _HLS if body.media_url else None
        body.image_url = body.image_url or web_url(_text(embed, "thumbnail"), "") or None
    elif kind == "app.bsky.embed.external#view":
        _link_card(body, _obj(embed, "external"))
    elif kind == "app.bsky.embed.record#view":
        _quote(body, _obj(embed, "record"))


def _link_card(body: _Body, card: dict[str, Any]) -> None:
    link = web_url(_text(card, "uri"), "")
    if not link:
        return
    title = plain_text(_text(card, "title")) or link
    # The card usually repeats a link of the text: then its text is the title alone.
    text = title if link in body.links or title == link else f"{title} {link}"
    body.blocks.append((text, f'<p><a href="{_html.escape(link)}">{_html.escape(title)}</a></p>'))
    body.links.append(link)
    body.image_url = body.image_url or web_url(_text(card, "thumb"), "") or None


def _quote(body: _Body, quoted: dict[str, Any]) -> None:
    """A quoted post (viewRecord, or viewNotFound/viewBlocked with only a uri):
    a link to it, not a post of its own."""
    handle = _text(_obj(quoted, "author"), "handle")
    link = _web_url(_text(quoted, "uri"), handle)
    if not link:
        return  # a quoted feed generator, list or labeler: nothing to read
    who = f"@{handle}" if handle else "a post"
    body.blocks.append((f"Quoting {who}: {link}",
                        f'<p>Quoting <a href="{_html.escape(link)}">{_html.escape(who)}</a></p>'))
    body.links.append(link)


def _web_url(uri: str, handle: str) -> str:
    """https://bsky.app/profile/<handle or did>/post/<rkey> for a post's at:// uri
    (bsky-docs oembed pattern), "" if `uri` is not a post."""
    did, _, rest = uri.removeprefix("at://").partition("/")
    collection, _, rkey = rest.partition("/")
    if not uri.startswith("at://") or collection != _POST_COLLECTION or not rkey or "/" in rkey:
        return ""
    profile = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{profile}/post/{rkey}"


def _did(uri: str) -> str:
    return uri.removeprefix("at://").partition("/")[0]


def _hashtags(facet_tags: list[str], record_tags: object) -> tuple[str, ...]:
    extra = [t for t in record_tags if isinstance(t, str)] if isinstance(record_tags, list) else []
    cleaned = (plain_text(tag).lstrip("#").lower() for tag in facet_tags + extra)
    return tuple(dict.fromkeys(tag for tag in cleaned if tag))


def _fingerprint(raw: dict[str, Any], record: dict[str, Any]) -> str:
    """What makes a new version: the record (its cid), its text and counts."""
    parts = [_text(raw, "cid"), str(record.get("text")), _text(_obj(raw, "embed"), "$type")]
    parts += [str(_count(raw, k)) for k in ("likeCount", "repostCount", "replyCount", "quoteCount")]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def parse_time(value: object) -> datetime | None:
    """An atproto datetime (RFC 3339) as aware UTC; None if unreadable.
    A datetime without offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=when.tzinfo or timezone.utc).astimezone(timezone.utc)


def _escape_lines(segment: str) -> str:
    return _html.escape(segment).replace("\r\n", "\n").replace("\n", "<br>")


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

"""A loopback HTTP server for sample feeds: `pln demo`, tests and the fetch benchmark.

`FeedServer` serves a mapping of path -> (content type, body) on 127.0.0.1 with
a strong ETag and a Last-Modified date, and answers conditional requests with
304 as a well-behaved feed host does (RFC 9110 §13). `demo_feeds(now)` renders
the feeds shipped in `aggregator/demo/feeds/` with dates relative to `now`, so
the demo always has "yesterday's" posts.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from importlib.resources import files
from types import TracebackType

log = logging.getLogger(__name__)

Body = bytes | Callable[[], bytes]
"""A response body: fixed bytes, or a callable producing them on each request."""

Route = tuple[str, Body]
"""(content type, body) served at one path."""

# File suffix of a shipped template -> (content type, date style).
_FORMATS: dict[str, tuple[str, str]] = {
    ".rss": ("application/rss+xml; charset=utf-8", "rfc822"),
    ".atom": ("application/atom+xml; charset=utf-8", "rfc3339"),
    ".json": ("application/feed+json; charset=utf-8", "rfc3339"),
}
_DATE_TOKEN = re.compile(r"\{\{hours_ago:(\d+(?:\.\d+)?)\}\}")


class _Entry:
    """What the server knows of one path: its route and the validators last served."""

    __slots__ = ("_lock", "body", "content_type", "etag", "last_modified")

    def __init__(self, content_type: str, body: Body) -> None:
        self.content_type = content_type
        self.body = body
        self.etag = ""
        self.last_modified = datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def render(self) -> tuple[bytes, str, datetime]:
        """The body now, its strong ETag, and when it last changed (second precision)."""
        data = self.body() if callable(self.body) else self.body
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        with self._lock:  # concurrent requests for one path must agree on the date
            if etag != self.etag:
                if self.etag:
                    # At least one second later: HTTP dates have one-second
                    # resolution, and If-Modified-Since must see the change.
                    now = datetime.now(UTC).replace(microsecond=0)
                    self.last_modified = max(now, self.last_modified + timedelta(seconds=1))
                self.etag = etag
            return data, etag, self.last_modified


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the owning FeedServer's routes; keep-alive like a real feed host."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        """Answer 200, 304 or 404."""
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        """Answer like GET, without the body."""
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        owner = self.server.owner
        if owner.latency_s > 0:
            time.sleep(owner.latency_s)
        path = self.path.split("?", 1)[0]
        entry = owner.entry(path)
        # Counted before answering: a client holding its response must see it counted.
        if entry is None:
            owner.count(404)
            self._send(404, {"Content-Type": "text/plain"}, b"not found\n", send_body)
            return
        data, etag, modified_at = entry.render()
        headers = {
            "Content-Type": entry.content_type,
            "ETag": etag,
            "Last-Modified": format_datetime(modified_at, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if _is_not_modified(
            self.headers.get("If-None-Match"),
            self.headers.get("If-Modified-Since"),
            etag,
            modified_at,
        ):
            owner.count(304)
            self._send(304, headers, b"", False)
            return
        owner.count(200)
        self._send(200, headers, data, send_body)

    def _send(self, status: int, headers: Mapping[str, str], data: bytes, send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one debug line per request instead of stderr noise."""
        log.debug("feed server: " + format, *args)


def _is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, modified_at: datetime
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent."""
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return modified_at <= since


class _HTTPServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FeedServer and accepts bursts of connections."""

    daemon_threads = True
    # The default backlog of 5 drops connections when many workers connect at
    # once, and a dropped SYN costs the client a one-second retransmit.
    request_queue_size = 256

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving feeds.

    Use as a context manager, or call `start()` and `close()`. `latency_s`
    (seconds) delays every response, like a distant host. Routes can be
    replaced while running with `set_route`, e.g. for a "day 2" of a feed;
    a changed body gets a new ETag and Last-Modified.
    """

    def __init__(
        self, routes: Mapping[str, Route] | None = None, *, latency_s: float = 0.0
    ) -> None:
        self.latency_s = latency_s
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._statuses: Counter[int] = Counter()
        for path, (content_type, body) in (routes or {}).items():
            self.set_route(path, content_type, body)
        self._httpd = _HTTPServer(self)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def request_count(self) -> int:
        """How many requests were answered so far, whatever their status."""
        with self._lock:
            return sum(self._statuses.values())

    def status_counts(self) -> dict[int, int]:
        """Requests answered so far, by HTTP status (200, 304, 404)."""
        with self._lock:
            return dict(self._statuses)

    def set_route(self, path: str, content_type: str, body: Body) -> None:
        """Serve `body` at `path` (which starts with "/"), replacing what was there."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is None:
                self._entries[path] = _Entry(content_type, body)
            else:
                entry.content_type, entry.body = content_type, body

    def entry(self, path: str) -> _Entry | None:
        """The route served at `path`, or None (the handler answers 404)."""
        with self._lock:
            return self._entries.get(path)

    def count(self, status: int) -> None:
        """Record one answered request."""
        with self._lock:
            self._statuses[status] += 1

    def start(self) -> FeedServer:
        """Start serving in a background thread; returns self."""
        # A short poll interval makes close() quick (it waits for one poll).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="feed-server", daemon=True
        )
        self._thread.start()
        log.debug("feed server listening on %s", self.base_url)
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def render_template(text: str, now: datetime, style: str) -> str:
    """Replace each `{{hours_ago:H}}` by the date H hours before `now`.

    `style` is "rfc822" (RSS pubDate) or "rfc3339" (Atom, JSON Feed). Raises
    ValueError if `now` is naive or the style is unknown.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if style not in ("rfc822", "rfc3339"):
        raise ValueError(f"unknown date style {style!r}")
    now_utc = now.astimezone(UTC).replace(microsecond=0)

    def date(match: re.Match[str]) -> str:
        at = now_utc - timedelta(hours=float(match.group(1)))
        if style == "rfc822":
            return format_datetime(at, usegmt=True)
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    return _DATE_TOKEN.sub(date, text)


def demo_feeds(now: datetime) -> dict[str, Route]:
    """The shipped sample feeds, dated relative to `now`, keyed by path `/feeds/<file>`.

    Each value is (content type, body bytes). Raises ValueError if `now` is naive.
    """
    routes: dict[str, Route] = {}
    for item in sorted(
        files("aggregator.run.demo").joinpath("feeds").iterdir(), key=lambda t: t.name
    ):
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if suffix not in _FORMATS:
            continue
        content_type, style = _FORMATS[suffix]
        body = render_template(item.read_text(encoding="utf-8"), now, style)
        routes[f"/feeds/{item.name}"] = (content_type, body.encode("utf-8"))
    return routes

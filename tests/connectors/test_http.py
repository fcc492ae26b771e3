"""connectors/_http.py: redirects, address guard, size and time limits, error messages."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions

from aggregator.domain.errors import AuthError, FetchError, RateLimited, SourceGone
from connectors.http.errors import raise_for_status
from connectors.http.fetch import fetch_url
from connectors.http.guard import BlockedAddress, make_session
from connectors.http.response import HttpResponse

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
FEED = "https://feeds.example.org/feed.xml"


def get(url: str, **overrides: Any) -> HttpResponse:
    kwargs: dict[str, Any] = {
        "timeout_s": 20.0,
        "max_bytes": 10_000_000,
        "max_redirects": 5,
        "allow_private": (),
        "headers": None,
        "source_key": "blog",
    }
    kwargs.update(overrides)
    session = kwargs.pop("session", None) or make_session("PLN-Digest/test")
    return fetch_url(session, url, **kwargs)


def message(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.message)


@responses.activate
def test_a_plain_fetch_returns_body_final_url_and_lowercased_headers() -> None:
    responses.get(
        FEED, body=b"<rss/>", headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    resp = get(FEED, headers={"If-None-Match": '"v0"'})
    assert (resp.status, resp.url, resp.body) == (200, FEED, b"<rss/>")
    assert resp.headers["etag"] == '"v1"' and resp.permanent_redirect_to is None
    sent = responses.calls[0].request.headers
    assert sent["If-None-Match"] == '"v0"' and sent["User-Agent"] == "PLN-Digest/test"


@responses.activate
def test_permanent_redirects_report_the_new_url() -> None:
    responses.get(FEED, status=301, headers={"Location": "https://new.example.org/a"})
    responses.get("https://new.example.org/a", status=308, headers={"Location": "/b.xml"})
    responses.get("https://new.example.org/b.xml", body=b"ok")
    resp = get(FEED)
    assert resp.body == b"ok"
    assert resp.permanent_redirect_to == "https://new.example.org/b.xml"


@responses.activate
def test_a_temporary_hop_means_the_source_did_not_move() -> None:
    responses.get(FEED, status=301, headers={"Location": "https://new.example.org/a"})
    responses.get(
        "https://new.example.org/a", status=302, headers={"Location": "https://new.example.org/b"}
    )
    responses.get("https://new.example.org/b", body=b"ok")
    resp = get(FEED)
    assert resp.url == "https://new.example.org/b" and resp.permanent_redirect_to is None


@responses.activate
def test_redirect_loop_is_a_fetch_error_without_the_query_token() -> None:
    a, b = "https://a.example.org/f?token=s3cret", "https://b.example.org/f?token=s3cret"
    responses.get(a, status=302, headers={"Location": b})
    responses.get(b, status=302, headers={"Location": a})
    with pytest.raises(FetchError) as excinfo:
        get(a)
    assert message(excinfo) == "redirect loop at https://a.example.org/f?..."
    assert "s3cret" not in str(excinfo.value)


@responses.activate
def test_too_many_redirects() -> None:
    for i in range(4):
        responses.get(f"https://r.example.org/{i}", status=307, headers={"Location": f"/{i + 1}"})
    with pytest.raises(FetchError, match=r"too many redirects \(more than 2\)"):
        get("https://r.example.org/0", max_redirects=2)


@responses.activate
def test_authorization_is_not_forwarded_to_another_host() -> None:
    responses.get(FEED, status=302, headers={"Location": "https://cdn.example.net/f"})
    responses.get("https://cdn.example.net/f", body=b"ok")
    get(FEED, headers={"Authorization": "Bearer t"})
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"
    assert "Authorization" not in responses.calls[1].request.headers


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed",
        "http://10.1.2.3/feed",
        "http://localhost/feed",
        "http://[::ffff:192.168.1.1]/feed",
        "http://0.0.0.0/",
    ],
)
@responses.activate
def test_private_and_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(
        FetchError, match=r"private or local address\); list it in fetch.allow_private"
    ):
        get(url)
    assert len(responses.calls) == 0


@responses.activate
def test_a_redirect_from_a_public_host_to_a_private_address_is_refused() -> None:
    responses.get(FEED, status=302, headers={"Location": "http://10.0.0.1/admin"})
    with pytest.raises(FetchError, match=r"refused to connect to 10\.0\.0\.1:80"):
        get(FEED)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("allow", "url", "allowed"),
    [
        (["10.0.0.0/8"], "http://10.0.0.1/f", True),
        (["10.20.0.0/16"], "http://10.0.0.1/f", False),
        (["127.0.0.1:8080"], "http://127.0.0.1:8080/f", True),
        (["127.0.0.1:8080"], "http://127.0.0.1:8081/f", False),
        (["127.0.0.1"], "http://127.0.0.1:8081/f", True),
        (["localhost:8080"], "http://localhost:8080/f", True),
        (["[::1]:8080"], "http://[::1]:8080/f", True),
    ],
)
@responses.activate
def test_allow_private_entries(allow: list[str], url: str, allowed: bool) -> None:
    responses.get(url, body=b"ok")
    if allowed:
        assert get(url, allow_private=allow).body == b"ok"
    else:
        with pytest.raises(FetchError, match="private or local"):
            get(url, allow_private=allow)


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https URLs"):
        get(url)


@responses.activate
def test_a_body_over_the_cap_is_refused() -> None:
    responses.get(FEED, body=b"x" * 2_000_001)
    with pytest.raises(FetchError) as excinfo:
        get(FEED, max_bytes=2_000_000)
    assert message(excinfo) == (
        "feed is larger than fetch.max_body_bytes (2 MB); raise the limit or ask the publisher"
    )


@responses.activate
def test_the_cap_counts_decompressed_bytes() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    responses.get(FEED, body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="larger than fetch.max_body_bytes"):
        get(FEED, max_bytes=1_000_000)


@responses.activate
def test_gzip_bodies_are_decoded() -> None:
    responses.get(FEED, body=gzip.compress(b"<rss/>"), headers={"Content-Encoding": "gzip"})
    assert get(FEED).body == b"<rss/>"


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timed out after 20 s"),
        (
            requests.exceptions.ConnectTimeout("connect timed out"),
            "connection timed out after 20 s",
        ),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.NameResolutionError(
                    "nowhere.example", None, socket.gaierror(-2, "Name or service not known")
                )
            ),  # type: ignore[arg-type]
            "cannot resolve host nowhere.example",
        ),
        (
            requests.exceptions.SSLError(
                "certificate verify failed: unable to get local issuer certificate"
            ),
            "TLS error: certificate verify failed: unable to get local issuer certificate",
        ),
        (
            requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")),
            "connection refused: is the server down?",
        ),
        (
            requests.exceptions.ChunkedEncodingError("broken"),
            "the connection broke while reading the response",
        ),
    ],
)
@responses.activate
def test_network_failures_become_one_line_fetch_errors(exc: Exception, text: str) -> None:
    responses.get(FEED, body=exc)
    with pytest.raises(FetchError) as excinfo:
        get(FEED)
    assert message(excinfo) == text
    assert excinfo.value.source_key == "blog"


def response(status: int, **headers: str) -> HttpResponse:
    return HttpResponse(
        status, FEED, {k.lower().replace("_", "-"): v for k, v in headers.items()}, b""
    )


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (401, AuthError, "access refused (401)"),
        (403, AuthError, "access refused (403)"),
        (404, FetchError, "not found (404): check the URL"),
        (410, SourceGone, "the feed is gone (410 Gone); remove or replace the source"),
        (500, FetchError, "server error (500)"),
        (503, FetchError, "server error (503)"),
        (418, FetchError, "request refused (418)"),
    ],
)
def test_error_statuses(status: int, error: type[Exception], text: str) -> None:
    with pytest.raises(error) as excinfo:
        raise_for_status("blog", response(status), NOW)
    assert type(excinfo.value) is error
    assert message(excinfo).startswith(text)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", NOW + timedelta(seconds=120)),
        (429, "Tue, 01 Sep 2026 07:30:00 GMT", datetime(2026, 9, 1, 7, 30, tzinfo=UTC)),
        (429, "Tue, 01 Sep 2026 05:00:00 GMT", NOW),  # in the past: now
        (429, "99999999999", NOW + timedelta(days=7)),  # absurd: capped
        (429, "soon", None),
        (503, "3600", NOW + timedelta(hours=1)),
    ],
)
def test_rate_limits_carry_retry_after(
    status: int, retry_after: str, expected: datetime | None
) -> None:
    with pytest.raises(RateLimited) as excinfo:
        raise_for_status("blog", response(status, retry_after=retry_after), NOW)
    assert excinfo.value.retry_after == expected


def test_success_and_304_do_not_raise() -> None:
    for status in (200, 204, 304):
        raise_for_status("blog", response(status), NOW)


# --- a real loopback server: the address check at connect time -------------


Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def server() -> Iterator[tuple[int, dict[str, Handler]]]:
    """A loopback HTTP server; tests put path -> handler functions in the dict."""
    routes: dict[str, Handler] = {}

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes.get(self.path, _not_found)(self)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], routes
    httpd.shutdown()
    httpd.server_close()


def _not_found(h: BaseHTTPRequestHandler) -> None:
    h.send_response(404)
    h.end_headers()


def _ok(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "2")
    h.end_headers()
    h.wfile.write(b"ok")


@pytest.fixture
def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make feeds.school.test resolve to 127.0.0.1, as a DNS-rebinding name would."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "feeds.school.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.usefixtures("resolve_to_loopback")
def test_a_name_resolving_to_loopback_is_refused_at_connect_time(server: Any) -> None:
    port, routes = server
    routes["/feed"] = _ok
    with pytest.raises(FetchError) as excinfo:
        get(f"http://feeds.school.test:{port}/feed")
    assert message(excinfo).startswith(
        f"refused to connect to feeds.school.test:{port} (127.0.0.1 is"
    )
    assert (
        get(f"http://feeds.school.test:{port}/feed", allow_private=["feeds.school.test"]).body
        == b"ok"
    )


@pytest.mark.usefixtures("resolve_to_loopback")
def test_the_session_itself_refuses_private_addresses(server: Any) -> None:
    """Connectors that use the session directly (SDKs) get the same guard."""
    port, routes = server
    routes["/feed"] = _ok
    with pytest.raises(BlockedAddress, match="127.0.0.1 is a private or local address"):
        make_session("t").get(f"http://feeds.school.test:{port}/feed", timeout=5)


def test_allowed_host_port_does_not_allow_a_redirect_to_another_port(server: Any) -> None:
    port, routes = server

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", f"http://127.0.0.1:{port + 1}/other")
        h.send_header("Content-Length", "0")
        h.end_headers()

    routes["/feed"], routes["/ok"] = redirect, _ok
    allow = [f"127.0.0.1:{port}"]
    assert get(f"http://127.0.0.1:{port}/ok", allow_private=allow).body == b"ok"
    with pytest.raises(FetchError, match=f"refused to connect to 127.0.0.1:{port + 1}"):
        get(f"http://127.0.0.1:{port}/feed", allow_private=allow)


def test_a_server_dripping_bytes_is_cut_off(server: Any) -> None:
    port, routes = server

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        try:
            for _ in range(100):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    routes["/feed"] = drip
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.9 s \(the server sends too slowly\)"):
        get(f"http://127.0.0.1:{port}/feed", allow_private=["127.0.0.1"], timeout_s=0.3)
    assert time.monotonic() - started < 6  # uncut, the drip lasts 10 s


def test_a_server_that_is_down_is_reported_as_refused_not_as_a_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as excinfo:
        get(f"http://127.0.0.1:{port}/feed", allow_private=[f"127.0.0.1:{port}"])
    assert message(excinfo) == "connection refused: is the server down?"

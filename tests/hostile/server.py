"""A loopback HTTP server that misbehaves on purpose, for the hostile-source tests.

Each path is answered by a handler function; the helpers below build the
behaviours a hostile or broken feed host shows: a body that never ends, one
that drips a byte at a time (in the headers or the body), decompression
bombs, redirect loops and redirects elsewhere. Every request path is recorded
so a test can assert that something was *never* asked for (an external DTD, a
redirect target that must be refused before connecting).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import threading
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]

# Connection errors a handler meets when the client gives up, as it should.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class HostileServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requested: list[str] = []
        self.stopping = threading.Event()
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requested.append(self.path)
                handler = owner.routes.get(self.path.split("?", 1)[0], _not_found)
                with contextlib.suppress(_GONE):
                    handler(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    # -- behaviours --------------------------------------------------------------

    def static(
        self,
        path: str,
        content_type: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> None:
        """Serve `body` with a Content-Length (and any extra `headers`)."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = handler

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer `status` with `Location: location`."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = handler

    def endless(
        self, path: str, chunk: bytes = b"<item><title>more</title></item>\n" * 2000
    ) -> None:
        """A 200 with no length that never ends (until the client hangs up)."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.end_headers()
            h.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
            while not self.stopping.is_set():
                h.wfile.write(chunk)

        self.routes[path] = handler

    def drip(self, path: str, body: bytes, every_s: float, in_headers: bool = False) -> None:
        """Send one byte every `every_s` seconds: of the body, or of the headers."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            head = (
                b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n"
                b"Content-Length: %d\r\n" % len(body)
            )
            if in_headers:
                head += b"X-Padding: " + b"x" * 10_000 + b"\r\n"
            head += b"\r\n"
            slow, fast = (head + body, b"") if in_headers else (body, head)
            h.wfile.write(fast)
            h.wfile.flush()
            for byte in _bytes(slow):
                if self.stopping.wait(every_s):
                    return
                h.wfile.write(byte)
                h.wfile.flush()

        self.routes[path] = handler


def _bytes(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def _not_found(h: BaseHTTPRequestHandler) -> None:
    h.send_response(404)
    h.send_header("Content-Length", "0")
    h.end_headers()


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip stream of `decoded_bytes` zeros (about 1/1000 of that on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def deflate_bomb(decoded_bytes: int) -> bytes:
    """A zlib ("deflate" in HTTP) stream of `decoded_bytes` zeros."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def nested_gzip(data: bytes) -> bytes:
    """`data` gzipped twice (served as `Content-Encoding: gzip, gzip`)."""
    return gzip.compress(gzip.compress(data, 9), 9)


class ForwardingProxy:
    """A plain HTTP forward proxy on 127.0.0.1, as schools run one: it fetches
    whatever absolute URL it is asked for, from its own side, and relays the
    answer (redirects included, unfollowed). Every URL asked for is recorded."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requested.append(self.path)
                parts = urllib.parse.urlsplit(self.path)
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=5)
                try:
                    conn.request("GET", parts.path or "/", headers={"Host": parts.netloc})
                    answer = conn.getresponse()
                    body = answer.read()
                except OSError:
                    self.send_error(502)
                    return
                finally:
                    conn.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

"""HTTP for every connector: one session, guarded addresses, capped bodies,
and the translation of network failures into `SourceError`s (STYLE.md §3-4).

`fetch_url` follows redirects itself so it can report a permanent move and
check every hop. Loopback, private, link-local, reserved and multicast
addresses are refused unless `[fetch] allow_private` lists them (SPEC
"Configuration"); the check runs on the address actually connected to (a
name that resolves to 10.0.0.1 is refused too), inside the session's
adapter, and again on each hop's URL before a request is sent.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions as u3exc
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse as Urllib3Response

from aggregator.domain.errors import AuthError, FetchError, RateLimited, SourceGone

__all__ = [
    "BlockedAddress",
    "HttpResponse",
    "fetch_url",
    "make_session",
    "map_errors",
    "raise_for_status",
    "redact",
]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_NO_BODY = frozenset({204, 304})  # RFC 9110 §15.3.5, §15.4.5: never a body
_CHUNK = 64 * 1024
# The whole fetch (every hop and the body) must end within this many
# read timeouts, so a server dripping one byte per read timeout is cut off.
_DEADLINE_FACTOR = 3
_MAX_RETRY_AFTER = timedelta(days=7)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """A URL or connection points at an address the policy refuses."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response. `headers` has lower-case names; `url` is the
    final URL after redirects; `permanent_redirect_to` is that URL when every
    hop was permanent (301/308), else None."""

    status: int
    url: str
    headers: Mapping[str, str]
    body: bytes
    permanent_redirect_to: str | None = None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which non-public addresses may be reached (`[fetch] allow_private`).

    Entries are a host name (any port), `host:port` (that port only) or a
    CIDR network / single IP (any port).
    """

    hosts: frozenset[str] = frozenset()
    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AddressPolicy:
        """Build a policy from config entries; raises ValueError on a bad entry."""
        hosts: set[str] = set()
        host_ports: set[tuple[str, int]] = set()
        networks = []
        for raw in entries:
            entry = raw.strip().lower()
            host, sep, port = entry.rpartition(":")
            if sep and port.isdigit() and (host.count(":") == 0 or host.startswith("[")):
                host_ports.add((host.strip("[]"), int(port)))
            elif "/" in entry or _as_ip(entry) is not None:
                networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), frozenset(host_ports), tuple(networks))

    def check(self, host: str, ip: IP, port: int) -> None:
        """Raise BlockedAddress if `ip` (reached as `host:port`) is not allowed."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_global and not ip.is_multicast:
            return
        name = host.strip("[]").lower().rstrip(".")
        if name in self.hosts or (name, port) in self.host_ports:
            return
        if (str(ip), port) in self.host_ports or any(ip in net for net in self.networks):
            return
        raise BlockedAddress(
            f"refused to connect to {name}:{port} ({ip} is a private or local address); "
            "list it in fetch.allow_private if this is intended"
        )


_POLICY: ContextVar[AddressPolicy] = ContextVar("pln_address_policy", default=AddressPolicy())


class _Deadline:
    """The end of a whole fetch, enforced while response headers arrive.

    The read timeout bounds each `recv`, not the total: a server sending one
    header byte per read timeout would hold a fetch for hours. At the
    deadline the socket is shut down, which ends the blocked read.
    """

    def __init__(self, at: float) -> None:
        self.at = at  # time.monotonic() seconds
        self.expired = False

    @contextlib.contextmanager
    def watch(self, sock: socket.socket) -> Iterator[None]:
        """Shut `sock` down if the block is still running at the deadline."""
        timer = threading.Timer(max(self.at - time.monotonic(), 0.0), self._cut, (sock,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _cut(self, sock: socket.socket) -> None:
        self.expired = True
        with contextlib.suppress(OSError):  # already closed: nothing to cut
            sock.shutdown(socket.SHUT_RDWR)


_DEADLINE: ContextVar[_Deadline | None] = ContextVar("pln_fetch_deadline", default=None)


def _as_ip(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _GuardedConnection(HTTPConnection):
    """Resolves the host itself and refuses a non-allowed address before
    connecting to exactly the address it checked (no second DNS lookup that
    could answer differently)."""

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise u3exc.NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        policy = _POLICY.get()
        for address in addresses:
            policy.check(self.host, ipaddress.ip_address(address.split("%")[0]), port)
        last: Exception | None = None
        for address in addresses:
            self._dns_host = address  # TLS SNI and Host still use self.host
            try:
                return super()._new_conn()
            except (u3exc.NewConnectionError, u3exc.ConnectTimeoutError) as exc:
                last = exc
            finally:
                self._dns_host = host
        assert last is not None  # getaddrinfo never returns an empty list
        raise last

    def getresponse(self) -> Urllib3Response:  # type: ignore[override]  # as urllib3 does
        """Read the status line and headers, cut off at the fetch's deadline."""
        deadline = _DEADLINE.get()
        if deadline is None or self.sock is None:
            return super().getresponse()
        with deadline.watch(self.sock):
            return super().getresponse()


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    """HTTPS with the same address guard."""


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections go through the address guard."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def make_session(user_agent: str) -> requests.Session:
    """A session for all connectors: our User-Agent, no automatic retries,
    and connections that refuse private addresses (see `fetch_url`)."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    adapter = _GuardedAdapter(pool_connections=64, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def redact(url: str) -> str:
    """`url` without its query string and fragment, safe to show in messages
    (private feed URLs carry tokens there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    hidden = "?..." if parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}{hidden}"


def fetch_url(
    session: requests.Session,
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    max_redirects: int,
    allow_private: Sequence[str],
    headers: Mapping[str, str] | None,
    source_key: str,
) -> HttpResponse:
    """GET `url`, following up to `max_redirects` redirects, and read the body.

    `timeout_s` bounds connecting and each read; the whole fetch must end
    within 3 x `timeout_s`. The decoded body may not exceed `max_bytes`.
    Any status is returned (see `raise_for_status`).

    Raises FetchError for a refused address, a non-http(s) URL, a redirect
    loop or too many redirects, a body over the cap, and every network
    failure (see `map_errors`).
    """
    try:
        policy = AddressPolicy.parse(allow_private)
    except ValueError as exc:
        raise FetchError(source_key, f"invalid fetch.allow_private entry: {exc}") from exc
    deadline = _Deadline(time.monotonic() + _DEADLINE_FACTOR * timeout_s)
    token, deadline_token = _POLICY.set(policy), _DEADLINE.set(deadline)
    try:
        with map_errors(source_key, timeout_s=timeout_s):
            try:
                return _follow(
                    session,
                    url,
                    dict(headers or {}),
                    timeout_s,
                    max_bytes,
                    max_redirects,
                    deadline.at,
                    source_key,
                )
            except (requests.RequestException, u3exc.HTTPError, OSError) as exc:
                if deadline.expired:  # the watchdog cut the connection
                    raise FetchError(source_key, _too_slow(timeout_s)) from exc
                raise
    finally:
        _DEADLINE.reset(deadline_token)
        _POLICY.reset(token)


def _follow(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    timeout_s: float,
    max_bytes: int,
    max_redirects: int,
    deadline: float,
    source_key: str,
) -> HttpResponse:
    current, seen, permanent = url, {url}, True
    for _ in range(max_redirects + 1):
        _precheck(current, _POLICY.get(), source_key)
        resp = session.get(
            current,
            headers=headers,
            allow_redirects=False,
            stream=True,
            timeout=(timeout_s, timeout_s),
        )
        with resp:
            location = resp.headers.get("location")
            if resp.status_code not in _REDIRECTS or not location:
                body = (
                    b""
                    if resp.status_code in _NO_BODY
                    else _read_capped(resp, max_bytes, deadline, timeout_s, source_key)
                )
                moved = current if permanent and current != url else None
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                return HttpResponse(resp.status_code, current, hdrs, body, moved)
        permanent = permanent and resp.status_code in _PERMANENT
        target = urljoin(current, location.strip())
        if urlsplit(target).netloc != urlsplit(current).netloc:
            headers.pop("Authorization", None)  # never hand a token to another host
        if target in seen:
            raise FetchError(source_key, f"redirect loop at {redact(target)}")
        seen.add(target)
        current = target
    raise FetchError(source_key, f"too many redirects (more than {max_redirects})")


def _precheck(url: str, policy: AddressPolicy, source_key: str) -> None:
    """Refuse non-web URLs and literal private addresses before any request.

    Names are checked after resolution, at connect time (`_GuardedConnection`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError(source_key, f"invalid URL {redact(url)}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(source_key, f"only http and https URLs can be fetched, not {redact(url)}")
    host = parts.hostname
    ip = _as_ip(host)
    if ip is None and (host == "localhost" or host.endswith(".localhost")):
        ip = ipaddress.ip_address("127.0.0.1")  # RFC 6761: always loopback
    if ip is not None:
        policy.check(host, ip, port)


def _read_capped(
    resp: requests.Response, max_bytes: int, deadline: float, timeout_s: float, source_key: str
) -> bytes:
    """The decoded body, at most `max_bytes`, read before `deadline`.

    read1 returns as soon as any data arrives, so the deadline is checked
    even when a server sends one byte at a time; the cap counts decoded
    bytes, so a small gzip bomb is stopped too.
    """
    chunks: list[bytes] = []
    total = 0
    while chunk := resp.raw.read1(_CHUNK, decode_content=True):
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(
                source_key,
                f"feed is larger than fetch.max_body_bytes ({_size(max_bytes)}); "
                "raise the limit or ask the publisher",
            )
        if time.monotonic() > deadline:
            raise FetchError(source_key, _too_slow(timeout_s))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_slow(timeout_s: float) -> str:
    return f"timed out after {_DEADLINE_FACTOR * timeout_s:g} s (the server sends too slowly)"


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"


@contextlib.contextmanager
def map_errors(source_key: str, *, timeout_s: float | None = None) -> Iterator[None]:
    """Translate requests/urllib3/socket failures into one-line FetchErrors.

    `timeout_s` only feeds the message ("timed out after 20 s").
    SourceErrors pass through unchanged.
    """
    try:
        yield
    except BlockedAddress as exc:
        raise FetchError(source_key, str(exc)) from exc
    except (requests.RequestException, u3exc.HTTPError, OSError) as exc:
        raise FetchError(source_key, _describe(exc, timeout_s)) from exc


def _describe(exc: BaseException, timeout_s: float | None) -> str:
    """A one-line, secret-free description of a network failure."""
    after = f" after {timeout_s:g} s" if timeout_s else ""
    chain = _causes(exc)
    if any(isinstance(e, u3exc.NameResolutionError) for e in chain):
        host = next(e._host for e in chain if isinstance(e, u3exc.NameResolutionError))
        return f"cannot resolve host {host}"
    if any(isinstance(e, (requests.exceptions.SSLError, u3exc.SSLError)) for e in chain):
        reason = next(
            (e for e in reversed(chain) if not isinstance(e, requests.RequestException)), exc
        )
        return f"TLS error: {_first_line(reason)}"
    # Before the timeouts: urllib3's NewConnectionError subclasses its
    # ConnectTimeoutError, so a refused connection looks like a timeout.
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused: is the server down?"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection timed out{after}"
    if any(
        isinstance(e, (requests.exceptions.Timeout, u3exc.TimeoutError, TimeoutError))
        for e in chain
    ):
        return f"timed out{after}"
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            u3exc.LocationParseError,
        ),
    ):
        return "invalid URL"
    if any(
        isinstance(e, (requests.exceptions.ContentDecodingError, u3exc.DecodeError)) for e in chain
    ):
        return "cannot decode the response body (bad compression)"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, u3exc.ProtocolError)):
        return "the connection broke while reading the response"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect to the server"
    return f"network error: {_first_line(exc)}"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, its causes and contexts, and the reasons urllib3 wraps."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        cur = todo.pop()
        if cur is None or cur in seen:
            continue
        seen.append(cur)
        todo += [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        todo += [a for a in cur.args if isinstance(a, BaseException)]
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def raise_for_status(source_key: str, response: HttpResponse, now: datetime) -> None:
    """Raise the SourceError an HTTP error status means; return for 2xx/3xx.

    401/403 -> AuthError; 404 -> FetchError; 410 -> SourceGone; 429 ->
    RateLimited (retry_after from Retry-After, or None); 503 with
    Retry-After -> RateLimited; other 4xx/5xx -> FetchError. `now` is the
    current time (aware UTC), used to turn Retry-After seconds into a time.
    """
    status = response.status
    if status < 400:
        return
    if status in (401, 403):
        raise AuthError(
            source_key,
            f"access refused ({status}); the URL may need a login, "
            "or the server blocks our user agent",
        )
    if status == 404:
        raise FetchError(source_key, "not found (404): check the URL")
    if status == 410:
        raise SourceGone(source_key, "the feed is gone (410 Gone); remove or replace the source")
    retry_at = parse_retry_after(response.headers.get("retry-after"), now)
    if status == 429:
        raise RateLimited(source_key, "rate limited (429); will retry later", retry_at)
    if status == 503 and retry_at is not None:
        raise RateLimited(source_key, "server busy (503); will retry later", retry_at)
    kind = "server error" if status >= 500 else "request refused"
    raise FetchError(source_key, f"{kind} ({status})")


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """The time a Retry-After header (delay seconds or HTTP-date, RFC 9110
    §10.2.3) points to, never before `now` nor more than 7 days after it;
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = min(timedelta(seconds=int(value[:9])), _MAX_RETRY_AFTER)
        return now + delay
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=now.tzinfo)
    return min(max(when, now), now + _MAX_RETRY_AFTER)

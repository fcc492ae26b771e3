"""The address guard: every connection of the connectors' session refuses
loopback, private, link-local, reserved and multicast addresses unless
`[fetch] allow_private` lists them.

The check runs on the address actually connected to (a name that resolves to
10.0.0.1 is refused too), inside the session's adapter, and on each hop's URL
before a request is sent (`precheck`). `FETCH_DEADLINE` cuts a server that
drips its response headers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions as u3exc
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse as Urllib3Response

from aggregator.domain.errors import FetchError
from connectors.limits import HostSlots, Release

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """A URL or connection points at an address the policy refuses."""


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


ADDRESS_POLICY: ContextVar[AddressPolicy] = ContextVar(
    "pln_address_policy", default=AddressPolicy()
)


class Deadline:
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


FETCH_DEADLINE: ContextVar[Deadline | None] = ContextVar("pln_fetch_deadline", default=None)


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
        policy = ADDRESS_POLICY.get()
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
        deadline = FETCH_DEADLINE.get()
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
    """An HTTPAdapter whose connections go through the address guard, and
    whose requests each hold one of their host's slots (`HostSlots`) from
    before connecting until the body is read or the response closed."""

    def __init__(self, slots: HostSlots | None, **kwargs: Any) -> None:
        self._slots = slots
        super().__init__(**kwargs)

    def send(  # type: ignore[override]  # the keywords requests passes, typed loosely
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        """Send `request` while holding a slot of its host (see the class)."""
        if self._slots is None:
            return super().send(request, stream=stream, **kwargs)
        host = (urlsplit(request.url or "").hostname or "").lower()
        release = self._slots.acquire(host, _slot_wait(kwargs.get("timeout")))
        try:
            response = super().send(request, stream=stream, **kwargs)
            if not stream:
                _ = response.content  # read now, while the slot is held
        except BaseException:
            release()
            raise
        if stream:
            _release_with_connection(response, release)
        else:
            release()
        return response

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _slot_wait(timeout: object) -> float:
    """How long a request may wait for a slot of its host: as long as a whole
    fetch may take (three read timeouts), or a minute without a timeout."""
    read = timeout[1] if isinstance(timeout, tuple) else timeout
    return 3 * float(read) if isinstance(read, (int, float)) else 60.0


def _release_with_connection(response: requests.Response, release: Release) -> None:
    """Give the slot back when the streamed body's connection is released:
    urllib3 does it once the body is read, requests when the response is
    closed. Neither offers a hook, so the raw response's method is wrapped."""
    raw = response.raw
    done_with_connection = raw.release_conn

    def release_conn() -> None:
        try:
            done_with_connection()
        finally:
            release()

    setattr(raw, "release_conn", release_conn)  # noqa: B010  # an instance's method, on purpose


def make_session(user_agent: str, slots: HostSlots | None = None) -> requests.Session:
    """A session for all connectors: our User-Agent, no automatic retries,
    connections that refuse private addresses (see `fetch_url`), and, given
    `slots`, at most that many requests at once to one host."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    adapter = _GuardedAdapter(slots, pool_connections=64, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def precheck(url: str, policy: AddressPolicy, source_key: str, *, proxied: bool = False) -> None:
    """Refuse non-web URLs and private addresses before any request.

    An address is recognised in every spelling the system resolver reads
    (`literal_ip`). Names are otherwise checked after resolution, at connect
    time (`_GuardedConnection`); behind a proxy (`proxied`) that check would
    only see the proxy, so the name is resolved here and every address it
    gives is checked. BlockedAddress becomes a FetchError naming the fix.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError(source_key, f"invalid URL {redact(url)}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(source_key, f"only http and https URLs can be fetched, not {redact(url)}")
    host = parts.hostname
    ip = literal_ip(host)
    if ip is None and (host == "localhost" or host.endswith(".localhost")):
        ip = ipaddress.ip_address("127.0.0.1")  # RFC 6761: always loopback
    addresses = [ip] if ip is not None else _resolved(host, port) if proxied else []
    try:
        for address in addresses:
            policy.check(host, address, port)
    except BlockedAddress as exc:
        raise FetchError(source_key, str(exc)) from exc


def literal_ip(host: str) -> IP | None:
    """The address `host` is, if it is one, in any spelling the resolver accepts.

    Besides dotted quads and IPv6 (IPv4-mapped too), inet_aton(3) reads
    127.0.0.1 as `2130706433`, `0177.0.0.1`, `0x7f.0.0.1` or `127.1`, and
    getaddrinfo(3) hands such a name straight to it.
    """
    ip = _as_ip(host)
    if ip is not None or not host[:1].isdigit():
        return ip
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:  # not a numeric spelling: a host name
        return None


def _resolved(host: str, port: int) -> list[IP]:
    """Every address `host` resolves to here; none when it does not resolve
    (a proxy may know names we do not: it is then the proxy's to answer)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def is_proxied(session: requests.Session, url: str) -> bool:
    """Whether `session` would send a request for `url` through a proxy
    (its own `proxies`, or HTTP(S)_PROXY / NO_PROXY from the environment)."""
    proxies = dict(session.proxies)
    if session.trust_env:
        proxies = {**requests.utils.get_environ_proxies(url), **proxies}
    return requests.utils.select_proxy(url, proxies) is not None


def redact(url: str) -> str:
    """`url` without its query string and fragment, safe to show in messages
    (private feed URLs carry tokens there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    hidden = "?..." if parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}{hidden}"

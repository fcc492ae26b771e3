"""`fetch_url`: one GET through the guarded session, following redirects
itself so it can report a permanent move and check every hop, with a
capped body and a deadline for the whole fetch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions as u3exc

from aggregator.domain.errors import FetchError
from connectors.http.errors import map_errors
from connectors.http.guard import (
    ADDRESS_POLICY,
    FETCH_DEADLINE,
    AddressPolicy,
    Deadline,
    is_proxied,
    precheck,
    redact,
)
from connectors.http.response import HttpResponse

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_NO_BODY = frozenset({204, 304})  # RFC 9110 §15.3.5, §15.4.5: never a body
_CHUNK = 64 * 1024
# The whole fetch (every hop and the body) must end within this many
# read timeouts, so a server dripping one byte per read timeout is cut off.
_DEADLINE_FACTOR = 3


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
    deadline = Deadline(time.monotonic() + _DEADLINE_FACTOR * timeout_s)
    token, deadline_token = ADDRESS_POLICY.set(policy), FETCH_DEADLINE.set(deadline)
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
        FETCH_DEADLINE.reset(deadline_token)
        ADDRESS_POLICY.reset(token)


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
        precheck(
            current,
            ADDRESS_POLICY.get(),
            source_key,
            proxied=is_proxied(session, current),
        )
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

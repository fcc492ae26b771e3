"""Network failures and HTTP error statuses translated, once, into the
`SourceError` tree: one line each, naming what to do, never a secret."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
import urllib3.exceptions as u3exc

from aggregator.domain.errors import AuthError, FetchError, RateLimited, SourceGone
from connectors.http.guard import BlockedAddress
from connectors.http.response import HttpResponse
from connectors.limits import HostBusy

_MAX_RETRY_AFTER = timedelta(days=7)


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
    except HostBusy as exc:
        raise FetchError(
            source_key,
            f"{exc} was busy with other requests of ours (fetch.max_per_host) "
            "for the whole wait; tried again later",
        ) from exc
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

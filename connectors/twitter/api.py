"""Calling the X API v2 through tweepy's `Client`, and what its answers mean.

tweepy 4.17 talks to a bare `requests.Session` with no timeout, may sleep on
rate limits and logs request headers (the bearer token) at DEBUG. So the
client is built with `wait_on_rate_limit=False`, a placeholder token, and a
session wrapper (`_XSession`) that sends through the shared guarded session
with the `[fetch]` timeout and adds the real token itself. Answers are read
as raw JSON (`return_type=requests.Response`): tweepy's `Tweet` objects warn
on every pre-2022 tweet, and malformed JSON must become a ParseError.
docs/api-notes.md §1 has the facts and sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from aggregator.domain.errors import AuthError, FetchError, ParseError, RateLimited
from aggregator.domain.secret import Secret
from connectors.http.errors import map_errors, parse_retry_after, raise_for_status
from connectors.http.response import HttpResponse

__all__ = ["XPage", "call", "make_client"]

JSON = dict[str, Any]

# One request per page asks for everything a post needs (docs/api-notes.md §1 "Fields").
PAGE_FIELDS: Mapping[str, str] = {
    "tweet_fields": "created_at,public_metrics,entities,author_id,lang,conversation_id,"
    "referenced_tweets,edit_history_tweet_ids,note_tweet,attachments",
    "expansions": "author_id,referenced_tweets.id,referenced_tweets.id.author_id,"
    "attachments.media_keys",
    "user_fields": "name,username",
    "media_fields": "url,preview_image_url,type",
}
_USAGE_CAPPED = "/problems/usage-capped"
_MAX_RESET = timedelta(days=1)
_RENEW = (
    "renew the bearer token in the X developer portal (your App > Keys and tokens) and set {env}"
)


class _XSession:
    """Stands in for tweepy's `requests.Session`: every request goes through
    the shared guarded session, with the `[fetch]` timeout (seconds, for
    connecting and for each read) and the bearer token added here."""

    def __init__(self, session: requests.Session, token: Secret, timeout_s: float) -> None:
        self._session = session
        self._token = token
        self._timeout = (timeout_s, timeout_s)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """What tweepy calls: `requests.Session.request` plus timeout and token."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.pop("User-Agent", None)  # the shared session's User-Agent names PLN Digest
        headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)


def make_client(session: requests.Session, token: Secret, timeout_s: float) -> Any:
    """A tweepy `Client` that never sleeps, returns raw responses, and sends
    through `session` with `timeout_s` (see `_XSession`)."""
    # tweepy only formats this into a header that _XSession replaces; keeping
    # the real token out of tweepy keeps it out of tweepy's DEBUG log lines.
    client = tweepy.Client(
        bearer_token="<added per request>",
        return_type=requests.Response,
        wait_on_rate_limit=False,
    )
    client.session = _XSession(session, token, timeout_s)
    return client


@dataclass(frozen=True, slots=True)
class XPage:
    """One page of an X API v2 answer, as JSON dicts.

    `tweets` is `data` (a single object is wrapped in a list); `users`,
    `included` (tweets) and `media` are the `includes`, by id / media key;
    `reads` is the number of posts X bills for this page (`data` plus the
    included tweets).
    """

    tweets: list[JSON]
    users: dict[str, JSON] = field(default_factory=dict)
    included: dict[str, JSON] = field(default_factory=dict)
    media: dict[str, JSON] = field(default_factory=dict)
    errors: list[JSON] = field(default_factory=list)
    meta: JSON = field(default_factory=dict)

    @property
    def reads(self) -> int:
        """Posts X bills for this page."""
        return len(self.tweets) + len(self.included)

    @property
    def next_token(self) -> str | None:
        """The token of the next (older) page, or None on the last page."""
        token = self.meta.get("next_token")
        return token if isinstance(token, str) and token else None


def call(
    source_key: str,
    token: Secret,
    now: datetime,
    timeout_s: float,
    method: Callable[..., Any],
    *args: Any,
    **params: Any,
) -> XPage:
    """Call a tweepy `Client` method and read its answer as an `XPage`.

    Raises AuthError (401/403), RateLimited (429: the rate-limit reset, or
    the first day of next month for a usage cap), FetchError (network, 400,
    404, 5xx) or ParseError (not JSON, or not the shape X documents).
    """
    try:
        with map_errors(source_key, timeout_s=timeout_s):
            response = method(*args, **params)
    except tweepy.HTTPException as exc:
        raise _error_for(source_key, exc.response, token, now) from exc
    return _read_page(source_key, response)


def _read_page(source_key: str, response: requests.Response) -> XPage:
    try:
        body = response.json()
    except ValueError as exc:
        raise ParseError(source_key, "X sent a response that is not JSON") from exc
    if not isinstance(body, dict):
        raise ParseError(source_key, "X sent JSON that is not an API v2 object")
    data = body.get("data", [])
    includes = body.get("includes", {})
    tweets = [data] if isinstance(data, dict) else data
    shapes = (tweets, includes, body.get("errors", []), body.get("meta", {}))
    if not all(
        isinstance(part, t) for part, t in zip(shapes, (list, dict, list, dict), strict=True)
    ):
        raise ParseError(
            source_key, "X sent JSON whose data, includes, errors or meta is malformed"
        )
    return XPage(
        tweets=tweets,
        users=_by_key(includes.get("users"), "id"),
        included=_by_key(includes.get("tweets"), "id"),
        media=_by_key(includes.get("media"), "media_key"),
        errors=[e for e in body.get("errors", []) if isinstance(e, dict)],
        meta=body.get("meta", {}),
    )


def _by_key(items: object, key: str) -> dict[str, JSON]:
    if not isinstance(items, list):
        return {}
    return {str(i[key]): i for i in items if isinstance(i, dict) and key in i}


def _error_for(
    source_key: str, response: requests.Response, token: Secret, now: datetime
) -> Exception:
    """The SourceError an X error response means (docs/api-notes.md §1 "errors")."""
    status, detail = response.status_code, _detail(response)
    renew = _RENEW.format(env=token.env_name)
    if status == 401:
        return AuthError(source_key, f"X refused the bearer token (401): {renew}")
    if status == 403:
        return AuthError(
            source_key,
            f"X refused access (403: {detail}); check the App's access "
            f"level in the X developer portal, or {renew}",
        )
    if status == 429:
        return _rate_limited(source_key, response, now)
    if status == 404:
        return FetchError(
            source_key, f"not found on X (404): check the source's options ({detail})"
        )
    if status == 400:
        return FetchError(source_key, f"X refused the request (400): {detail}")
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        raise_for_status(source_key, HttpResponse(status, response.url, headers, b""), now)
    except (FetchError, RateLimited, AuthError) as exc:
        return exc
    return FetchError(source_key, f"X answered with status {status}")


def _rate_limited(source_key: str, response: requests.Response, now: datetime) -> RateLimited:
    """A usage cap (monthly, waits for the next month) or a rate limit
    (waits for `x-rate-limit-reset`, Unix seconds; else Retry-After)."""
    if _USAGE_CAPPED in str(_body(response).get("type", "")):
        # X's cap is monthly: waiting for x-rate-limit-reset would not help.
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        return RateLimited(
            source_key,
            "the X monthly usage cap is exhausted (429 usage-capped); "
            "fetching resumes next month, or raise the cap in the "
            "X developer portal",
            next_month,
        )
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    when: datetime | None
    if reset.isdigit():
        reset_at = datetime.fromtimestamp(int(reset[:10]), UTC)
        when = min(max(reset_at, now), now + _MAX_RESET)  # windows are 15 minutes
    else:
        when = parse_retry_after(response.headers.get("retry-after"), now)
    return RateLimited(source_key, "rate limited by X (429); will retry after the reset", when)


def _body(response: requests.Response) -> JSON:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: requests.Response) -> str:
    """X's own one-line explanation of an error (`detail`, `title` or the
    first `errors[].message`), at most 200 characters."""
    body = _body(response)
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    text = body.get("detail") or body.get("title") or first.get("message") or response.reason or ""
    return " ".join(str(text).split())[:200]

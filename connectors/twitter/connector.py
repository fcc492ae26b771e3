"""The X (Twitter) connectors: `twitter_search`, `twitter_user`, `twitter_list`.

Each run reads pages newest first through tweepy's API v2 `Client`
(`connectors.twitter.api`), at most `MAX_PAGES` of them and never more posts
than the source's daily read budget (`connectors.twitter.cursor`), and turns
them into posts (`connectors.twitter.post`). Search and user timelines send
the newest id seen as `since_id`; list timelines cannot, so they stop at the
first tweet already seen. When a run stops early (page cap, budget), the
older tweets it did not reach are not fetched later: a digest wants the new.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from aggregator.domain.errors import AuthError, FetchError, RateLimited, SourceError
from aggregator.domain.post import Post
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.twitter.api import PAGE_FIELDS, XPage, call, make_client
from connectors.twitter.cursor import (
    MAX_RESULTS,
    READS_PER_RESULT,
    XCursor,
    daily_budget,
    page_size,
)
from connectors.twitter.post import page_posts, snowflake_time

__all__ = [
    "MAX_PAGES",
    "TwitterListConnector",
    "TwitterSearchConnector",
    "TwitterUserConnector",
]

MAX_PAGES = 5
# Recent search rejects a since_id older than its 7-day window (400): drop it
# a little before that.
_SEARCH_WINDOW = timedelta(days=7) - timedelta(hours=1)
_NO_TOKEN = (
    "no bearer token: set [twitter] bearer_token_env in the configuration and that "
    "variable to the App's bearer token (X developer portal > your App > Keys and tokens)"
)


@dataclass(frozen=True, slots=True)
class _Api:
    """One run's tweepy client and what every call needs."""

    client: Any
    token: Secret
    source_key: str
    now: datetime
    timeout_s: float

    def get(self, method: str, *args: Any, **params: Any) -> XPage:
        """Call the client's `method` (see `twitter_api.call`)."""
        return call(
            self.source_key,
            self.token,
            self.now,
            self.timeout_s,
            getattr(self.client, method),
            *args,
            **params,
        )


class _XConnector:
    """What the three kinds share: budget, paging, posts, cursor and check."""

    kind: ClassVar[str]
    min_results: ClassVar[int]  # the endpoint's smallest max_results
    what: ClassVar[str]  # "search results", for messages

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Read what is new, within the page cap and the daily read budget.

        Raises AuthError (no or refused token), RateLimited (rate limit,
        monthly usage cap, or today's read budget spent: until midnight UTC),
        FetchError or ParseError. A failing later page keeps the earlier ones.
        """
        api = self._api(source.key)
        cursor = self._start(api, source, XCursor.parse(state.cursor))
        self._check_budget(source, cursor, api.now)
        posts: dict[str, Post] = {}
        problems: list[str] = []
        newest = cursor.since_id
        token: str | None = None
        for number in range(MAX_PAGES):
            granted = self._take(source, cursor, api.now, first=number == 0)
            if not granted:
                break
            try:
                page = self._page(api, source, cursor, token, granted // READS_PER_RESULT)
            except SourceError as exc:
                self._give_back(source, api.now, granted)
                if number == 0:
                    raise
                problems.append(f"page {number + 1} failed: {exc.message}")
                break
            self._give_back(source, api.now, granted - page.reads)
            cursor = cursor.spend(api.now, page.reads)
            newest = _max_id(newest, page)
            page, reached_seen = self._unseen(page, cursor.since_id)
            problems += _collect(api, page, posts)
            token = page.next_token
            if reached_seen or token is None:
                break
        cursor = replace(cursor, since_id=newest)
        problem = "; ".join(dict.fromkeys(problems))  # each page may repeat the same error
        return FetchResult(
            posts=tuple(posts.values()), cursor=cursor.format(), problem=problem or None
        )

    def check(self, source: SourceConfig) -> list[str]:
        """One cheap call (a user lookup) with the bearer token; [] if it works."""
        found = []
        if page_size(daily_budget(source), 0, self.min_results) is None:
            found.append(self._budget_too_small(source))
        try:
            self._lookup(self._api(source.key), source.option("username") or "X")
        except SourceError as exc:
            found.append(exc.message)
        return found

    # -- what the kinds do differently ---------------------------------------

    def _start(self, api: _Api, source: SourceConfig, cursor: XCursor) -> XCursor:
        """The cursor with what must be known before the first page."""
        return cursor

    def _page(
        self, api: _Api, source: SourceConfig, cursor: XCursor, token: str | None, size: int
    ) -> XPage:
        raise NotImplementedError

    def _unseen(self, page: XPage, seen: str | None) -> tuple[XPage, bool]:
        """The page without tweets already seen, and whether there were any."""
        return page, False

    # -- shared --------------------------------------------------------------

    def _api(self, source_key: str) -> _Api:
        token = self._ctx.config.twitter.bearer_token
        if token is None:
            raise AuthError(source_key, _NO_TOKEN)
        timeout_s = self._ctx.config.fetch.timeout_seconds
        client = make_client(self._ctx.session, token, timeout_s)
        return _Api(client, token, source_key, self._ctx.clock(), timeout_s)

    def _lookup(self, api: _Api, username: str) -> str:
        """The numeric id of @`username` (one user read)."""
        page = api.get("get_user", username=username, user_fields="username")
        user_id = str(page.tweets[0].get("id", "")) if page.tweets else ""
        if not user_id.isdigit():
            raise FetchError(api.source_key, f"X has no account @{username}: check username")
        return user_id

    def _check_budget(self, source: SourceConfig, cursor: XCursor, now: datetime) -> None:
        if page_size(daily_budget(source), 0, self.min_results) is None:
            raise FetchError(source.key, self._budget_too_small(source))

    def _take(self, source: SourceConfig, cursor: XCursor, now: datetime, first: bool) -> int:
        """Reserve the worst-case reads of the next page in the day's budget,
        which every process fetching this source shares (`ctx.limits`): 0
        when not even the endpoint's smallest page fits. Raises RateLimited
        when that is so before the first page."""
        budget = daily_budget(source)
        granted = self._ctx.limits.budgets.take(
            _budget_name(source, now),
            most=MAX_RESULTS * READS_PER_RESULT,
            least=self.min_results * READS_PER_RESULT,
            limit=budget,
            floor=cursor.reads_on(now),
        )
        if granted or not first:
            return granted
        used = max(cursor.reads_on(now), self._ctx.limits.budgets.spent(_budget_name(source, now)))
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        raise RateLimited(
            source.key,
            f"today's X read budget is spent ({used} of "
            f"max_posts_per_day = {budget}); fetching resumes "
            "after midnight UTC",
            midnight,
        )

    def _give_back(self, source: SourceConfig, now: datetime, reads: int) -> None:
        if reads > 0:
            self._ctx.limits.budgets.give_back(_budget_name(source, now), reads)

    def _budget_too_small(self, source: SourceConfig) -> str:
        least = self.min_results * READS_PER_RESULT
        return (
            f"max_posts_per_day = {daily_budget(source)} is below one page of X "
            f"{self.what} ({least} reads): raise it to at least {least}"
        )


class TwitterSearchConnector(_XConnector):
    """`twitter_search`: recent search (last 7 days) for option `query`."""

    kind: ClassVar[str] = "twitter_search"
    min_results: ClassVar[int] = 10
    what: ClassVar[str] = "search results"

    def _page(
        self, api: _Api, source: SourceConfig, cursor: XCursor, token: str | None, size: int
    ) -> XPage:
        params: dict[str, Any] = {"max_results": size, **PAGE_FIELDS}
        since = cursor.since_id
        if since and snowflake_time(since) > api.now - _SEARCH_WINDOW:
            params["since_id"] = since
        if token:
            params["next_token"] = token
        return api.get("search_recent_tweets", source.option("query"), **params)


class TwitterUserConnector(_XConnector):
    """`twitter_user`: the posts of option `username` (the id is looked up
    once and kept in the cursor)."""

    kind: ClassVar[str] = "twitter_user"
    min_results: ClassVar[int] = 5
    what: ClassVar[str] = "user posts"

    def _start(self, api: _Api, source: SourceConfig, cursor: XCursor) -> XCursor:
        username = source.option("username")
        if cursor.user_id(username) is not None:
            return cursor
        return replace(cursor, user=f"{username}:{self._lookup(api, username)}")

    def _page(
        self, api: _Api, source: SourceConfig, cursor: XCursor, token: str | None, size: int
    ) -> XPage:
        params: dict[str, Any] = {"max_results": size, **PAGE_FIELDS}
        if cursor.since_id:
            params["since_id"] = cursor.since_id
        if token:
            params["pagination_token"] = token
        user_id = cursor.user_id(source.option("username"))
        return api.get("get_users_tweets", user_id, **params)


class TwitterListConnector(_XConnector):
    """`twitter_list`: the posts of list `list_id`. Lists take no since_id:
    paging stops at the first tweet already seen."""

    kind: ClassVar[str] = "twitter_list"
    min_results: ClassVar[int] = 1
    what: ClassVar[str] = "list posts"

    def _page(
        self, api: _Api, source: SourceConfig, cursor: XCursor, token: str | None, size: int
    ) -> XPage:
        params: dict[str, Any] = {"max_results": size, **PAGE_FIELDS}
        if token:
            params["pagination_token"] = token
        return api.get("get_list_tweets", source.option("list_id"), **params)

    def _unseen(self, page: XPage, seen: str | None) -> tuple[XPage, bool]:
        if seen is None:
            return page, False
        # Ids grow with time, so "not newer than the newest seen" is "seen"
        # even when that very tweet was deleted since.
        fresh = [
            t
            for t in page.tweets
            if not (isinstance(t, dict) and str(t.get("id")).isdigit()) or int(t["id"]) > int(seen)
        ]
        return replace(page, tweets=fresh), len(fresh) < len(page.tweets)


def _budget_name(source: SourceConfig, now: datetime) -> str:
    """The budget a source's reads on `now`'s UTC day are counted under."""
    return f"x:{source.key}:{now.date().isoformat()}"


def _collect(api: _Api, page: XPage, posts: dict[str, Post]) -> list[str]:
    """Add the page's posts (a newer page's version wins); the problems it carried."""
    result = page_posts(api.source_key, page, api.now)
    for post in result.posts:
        posts.setdefault(post.external_id, post)
    problems = []
    if page.errors:
        problems.append(f"X could not return {len(page.errors)} item(s): {_first(page.errors)}")
    if result.malformed:
        problems.append(f"skipped {result.malformed} malformed tweet(s)")
    return problems


def _first(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    text = first.get("detail") or first.get("title") or first.get("message") or "no detail"
    return " ".join(str(text).split())[:200]


def _max_id(newest: str | None, page: XPage) -> str | None:
    """The highest tweet id among `newest` and the page's own tweets."""
    ids = [int(t["id"]) for t in page.tweets if isinstance(t, dict) and str(t.get("id")).isdigit()]
    if newest is not None:
        ids.append(int(newest))
    return str(max(ids)) if ids else None

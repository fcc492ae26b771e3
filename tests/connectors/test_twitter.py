"""The X connectors on recorded API v2 pages (tests/data/http/twitter), over `responses`."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from aggregator.config.types import Config, FetchConfig, TwitterConfig
from aggregator.domain.errors import AuthError, FetchError, ParseError, RateLimited, SourceError
from aggregator.domain.post import Engagement, Post
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.http.guard import make_session
from connectors.twitter import connector as twitter_module
from connectors.twitter.connector import (
    TwitterListConnector,
    TwitterSearchConnector,
    TwitterUserConnector,
)
from connectors.twitter.cursor import monthly_read_estimate
from tests.http_fixtures import add_interaction, load_interaction

SECRET = "AAAA-fake-X-bearer-7Qz9-DO-NOT-LEAK"
API = "https://api.twitter.com/2"
SEARCH = f"{API}/tweets/search/recent"
NOW = datetime(2021, 9, 22, 17, 0, tzinfo=UTC)  # just after the twarc pages
BREXIT = "twitter/twarc-csv/brexit.page.json"
KPOP = "twitter/twarc-csv/kpop.page.json"


def context(now: datetime = NOW, token: str | None = SECRET) -> ConnectorContext:
    secret = Secret("TWITTER_BEARER_TOKEN", token) if token else None
    config = Config(
        twitter=TwitterConfig(bearer_token=secret), fetch=FetchConfig(timeout_seconds=7)
    )
    return ConnectorContext(make_session("PLN-Digest/test"), config, lambda: now)


def source(kind: str = "twitter_search", budget: int = 1000, **options: str) -> SourceConfig:
    defaults = {
        "twitter_search": {"query": "#brexit"},
        "twitter_user": {"username": "Twitter"},
        "twitter_list": {"list_id": "84839422"},
    }[kind]
    merged = {**defaults, **options, "max_posts_per_day": str(budget)}
    return SourceConfig(key="x-src", kind=kind, options=tuple(sorted(merged.items())))


def body(relative: str, **changes: Any) -> dict[str, Any]:
    """A recording's JSON body, with top-level keys or `meta` keys changed."""
    data: dict[str, Any] = copy.deepcopy(load_interaction(relative)["response"]["json"])
    for key, value in changes.items():
        if key in ("next_token", "result_count"):
            data.setdefault("meta", {})[key] = value
        else:
            data[key] = value
    return {k: v for k, v in data.items() if v is not None}


def last_page(relative: str) -> dict[str, Any]:
    """The recording as the last page (no next_token)."""
    data = body(relative)
    data.get("meta", {}).pop("next_token", None)
    return data


def params(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as m:
        yield m


def search(mock: responses.RequestsMock, *pages: dict[str, Any]) -> None:
    for page in pages:
        add_interaction(mock, BREXIT, url=SEARCH, body=page)


def by_id(result: FetchResult) -> dict[str, Post]:
    return {post.external_id: post for post in result.posts}


# --- first fetch -----------------------------------------------------------------


def test_first_search_asks_for_every_field_in_one_request(mock: responses.RequestsMock) -> None:
    search(mock, last_page(BREXIT))
    result = TwitterSearchConnector(context()).fetch(source(), FetchState())
    (call,) = mock.calls
    sent = params(call)
    assert sent["query"] == "#brexit" and sent["max_results"] == "100" and "since_id" not in sent
    assert set(sent["tweet.fields"].split(",")) == {
        "created_at",
        "public_metrics",
        "entities",
        "author_id",
        "lang",
        "conversation_id",
        "referenced_tweets",
        "edit_history_tweet_ids",
        "note_tweet",
        "attachments",
    }
    assert set(sent["expansions"].split(",")) == {
        "author_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
        "attachments.media_keys",
    }
    assert (
        sent["user.fields"] == "name,username"
        and sent["media.fields"] == "url,preview_image_url,type"
    )
    assert call.request.headers["Authorization"] == f"Bearer {SECRET}"
    assert call.request.headers["User-Agent"] == "PLN-Digest/test"
    assert call.request.req_kwargs["timeout"] == (7, 7)  # [fetch] timeout_seconds
    assert result.cursor is not None and result.cursor.startswith("x1;since=1440716895355764743;")
    assert result.problem is None


def test_search_posts_carry_author_permalink_metrics_and_expanded_text(
    mock: responses.RequestsMock,
) -> None:
    search(mock, last_page(BREXIT))
    posts = by_id(TwitterSearchConnector(context()).fetch(source(), FetchState()))
    post = posts["1440714938054418436"]
    assert post.network == "twitter" and post.title is None
    assert (
        post.author == "tagesschau (@tagesschau)" and post.author_url == "https://x.com/tagesschau"
    )
    assert post.url == "https://x.com/tagesschau/status/1440714938054418436"
    assert post.published_at == datetime(2021, 9, 22, 16, 29, 43, tzinfo=UTC)
    assert (
        post.engagement.likes == 18
        and post.engagement.reposts == 3
        and post.engagement.replies == 2
    )
    assert post.language == "de" and "handelsabkommen" in post.hashtags
    link = "http://www.tagesschau.de/wirtschaft/weltwirtschaft/grossbritannien-usa-handelsabkommen-101.html"
    assert post.links == (link,) and link in post.text and "t.co/" not in post.text
    assert f'<a href="{link}"' in post.html
    for post in posts.values():
        assert post.url.startswith("https://x.com/") and "t.co/" not in post.text + post.html
        assert post.published_at <= NOW and post.content_hash


def test_a_retweet_is_its_original_once_and_a_repost_by_the_retweeter(
    mock: responses.RequestsMock,
) -> None:
    page = last_page(BREXIT)
    search(mock, page)
    posts = by_id(TwitterSearchConnector(context()).fetch(source(), FetchState()))
    wrappers = {t["id"]: t for t in page["data"] if t["text"].startswith("RT @")}
    assert len(wrappers) == 67 and wrappers.keys() <= posts.keys()
    original = posts["1440713161355583489"]  # retweeted by 4100727022, among others
    assert original.author == "🐟carol hedges (@carolJhedges)"
    assert original.url == "https://x.com/carolJhedges/status/1440713161355583489"
    assert not original.text.startswith("RT @") and original.engagement.reposts == 22
    assert not original.is_repost
    reposts = [posts[i] for i, t in wrappers.items() if t["author_id"] == "4100727022"]
    [repost] = [r for r in reposts if r.repost_of == original.url]
    assert repost.is_repost and repost.url == original.url
    assert (repost.text, repost.html, repost.engagement) == ("", "", Engagement())
    assert repost.author != original.author and repost.author_url.startswith("https://x.com/")
    assert repost.published_at <= NOW and repost.content_hash
    # Every retweet whose original X included is a repost of it; no text starts "RT @".
    assert all(posts[i].is_repost for i in wrappers)
    assert not any(p.text.startswith("RT @") for p in posts.values())
    assert len(posts) == len({p.external_id for p in posts.values()})


def test_a_quote_is_its_own_words_linking_the_quoted_post(mock: responses.RequestsMock) -> None:
    search(mock, last_page(BREXIT))
    post = by_id(TwitterSearchConnector(context()).fetch(source(), FetchState()))[
        "1440715975020584960"
    ]
    quoted = "https://twitter.com/paulafr68963440/status/1440660748275834882"
    assert post.text == f"And @AngelaRayner & #NicolaSturgeon blame #Brexit..🤣🤣🤣! {quoted}"
    assert post.links == (quoted,) and post.hashtags == ("nicolasturgeon", "brexit")
    assert "<blockquote>" in post.html and "paul francis (@paulafr68963440)" in post.html
    assert "French TV reporting" not in post.text  # the quoted words are not this author's


def test_media_links_become_the_image_not_a_shared_link(mock: responses.RequestsMock) -> None:
    search(mock, body("twitter/twarc-csv/media_tweet.page.json"))
    (post,) = TwitterSearchConnector(context()).fetch(source(), FetchState()).posts
    assert post.text == "She's GOING with it! 🐍" and post.links == ()
    assert post.image_url is not None and post.image_url.startswith("https://pbs.twimg.com/")
    assert post.url == "https://x.com/IgorBrigadir/status/1558553189766631429"


def test_a_long_post_is_read_from_note_tweet(mock: responses.RequestsMock) -> None:
    add_interaction(mock, "twitter/synthetic_note_tweet.page.json", url=SEARCH)
    (post,) = TwitterSearchConnector(context()).fetch(source(), FetchState()).posts
    assert post.text.endswith(
        "Slides & worksheets: https://example.org/units/energy?grade=7 #scichat #NGSS"
    )
    assert "…" not in post.text and "i/web/status" not in post.text
    assert post.links == ("https://example.org/units/energy?grade=7",)
    assert post.hashtags == ("scichat", "ngss") and post.author == "Ms. Rivera (@rivera_teaches)"


def test_an_edited_post_keeps_the_first_id_of_its_history(mock: responses.RequestsMock) -> None:
    edited = body("twitter/twarc-csv/edited.page.json")
    before = dict(
        edited, data=[t for t in edited["includes"]["tweets"] if t["id"] == "1576994746135764992"]
    )
    search(mock, before, edited)
    connector = TwitterSearchConnector(context(now=datetime(2022, 10, 4, tzinfo=UTC)))
    (first,) = connector.fetch(source(), FetchState()).posts
    (second,) = connector.fetch(source(), FetchState()).posts
    assert first.external_id == second.external_id == "1576994746135764992"
    assert second.url.endswith("/status/1576994789110992896") and second.text == "hey :)"
    assert first.content_hash != second.content_hash  # stored once, updated in place
    assert second.language is None  # "qst": X's code for "no language"


# --- incremental fetch, paging, budget ---------------------------------------------


def test_next_search_asks_only_for_newer_posts(mock: responses.RequestsMock) -> None:
    search(
        mock,
        last_page(BREXIT),
        body(BREXIT, data=None, includes=None, result_count=0, next_token=None),
    )
    connector = TwitterSearchConnector(context())
    first = connector.fetch(source(), FetchState())
    again = connector.fetch(source(), FetchState(cursor=first.cursor))
    assert params(mock.calls[1])["since_id"] == "1440716895355764743"
    assert again.posts == () and again.cursor is not None
    assert again.cursor.startswith("x1;since=1440716895355764743;")


def test_a_since_id_older_than_the_search_window_is_not_sent(mock: responses.RequestsMock) -> None:
    search(mock, last_page(BREXIT))
    later = context(now=NOW + timedelta(days=8))
    TwitterSearchConnector(later).fetch(source(), FetchState(cursor="x1;since=1440716895355764743"))
    assert "since_id" not in params(mock.calls[0])  # X answers 400 to one outside the 7 days


def test_paging_follows_next_token_up_to_the_cap(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twitter_module, "MAX_PAGES", 2)
    search(mock, body(BREXIT), body(KPOP))
    result = TwitterSearchConnector(context()).fetch(source(budget=5000), FetchState())
    assert len(mock.calls) == 2  # kpop has a next_token too: the cap stops there
    assert params(mock.calls[1])["next_token"] == body(BREXIT)["meta"]["next_token"]
    posts = by_id(result)
    assert "1440716895355764743" in posts and posts["1440717170493689866"].is_repost  # an RT
    assert result.cursor is not None and result.cursor.startswith("x1;since=1440717170493689866;")


def test_a_page_never_asks_for_more_than_the_budget_left(mock: responses.RequestsMock) -> None:
    search(mock, body(BREXIT), last_page(KPOP))
    today = NOW.date().isoformat()
    result = TwitterSearchConnector(context()).fetch(
        source(budget=450), FetchState(cursor=f"x1;since=;user=;day={today};reads=100")
    )
    sizes = [int(params(call)["max_results"]) for call in mock.calls]
    assert sizes[0] == 100  # (450 - 100) // 3 = 116, capped at 100
    # The brexit page cost 159 reads (100 tweets + 59 included): 191 left, 63 results at worst x3.
    assert sizes[1:] == [63]
    assert result.cursor is not None and f"day={today};" in result.cursor


def test_a_spent_budget_waits_for_midnight_utc_without_calling_x(
    mock: responses.RequestsMock,
) -> None:
    cursor = f"x1;since=1440716895355764743;user=;day={NOW.date().isoformat()};reads=80"
    with pytest.raises(RateLimited) as info:
        TwitterSearchConnector(context()).fetch(source(budget=100), FetchState(cursor=cursor))
    assert info.value.retry_after == datetime(2021, 9, 23, tzinfo=UTC)
    assert "read budget is spent (80 of max_posts_per_day = 100)" in info.value.message
    assert len(mock.calls) == 0


def test_the_budget_starts_again_on_a_new_utc_day(mock: responses.RequestsMock) -> None:
    search(mock, last_page("twitter/tweepy/client_search_recent_tweets.interaction.json"))
    cursor = "x1;since=1440716895355764743;user=;day=2021-09-21;reads=100"
    result = TwitterSearchConnector(context()).fetch(source(budget=100), FetchState(cursor=cursor))
    assert params(mock.calls[0])["max_results"] == "33"
    assert result.cursor is not None and result.cursor.endswith(";day=2021-09-22;reads=10")


def test_monthly_read_estimate_is_thirty_days_of_the_budget() -> None:
    assert monthly_read_estimate(source(budget=100)) == 3000
    assert monthly_read_estimate(SourceConfig(key="x", kind="twitter_list")) == 3000  # default
    assert monthly_read_estimate(source("twitter_user", budget=250)) == 7500


# --- user and list timelines --------------------------------------------------------


def test_user_handle_is_resolved_once_and_kept_in_the_cursor(mock: responses.RequestsMock) -> None:
    add_interaction(mock, "twitter/tweepy/client_get_user.interaction.json")
    timeline = "twitter/tweepy/client_get_users_tweets.interaction.json"
    add_interaction(mock, timeline)
    add_interaction(mock, timeline, body={"meta": {"result_count": 0}})
    connector = TwitterUserConnector(context(now=datetime(2022, 10, 8, tzinfo=UTC)))
    first = connector.fetch(source("twitter_user"), FetchState())
    urls = [urlsplit(call.request.url).path for call in mock.calls]
    assert urls == [
        "/2/users/by/username/Twitter",
        "/2/users/783214/tweets",
        "/2/users/783214/tweets",
    ]
    assert (
        params(mock.calls[2])["pagination_token"] == "7140dibdnow9c7btw4232poeq0wapgnwgwqwvuwn3peex"
    )
    assert first.cursor is not None and ";user=Twitter:783214;" in first.cursor
    # The 2022 recording asked for no fields: no author, the id gives the time.
    post = by_id(first)["1577730467436138524"]
    assert post.url == "https://x.com/i/web/status/1577730467436138524"
    assert post.published_at == datetime(2022, 10, 5, 18, 40, 30, 908000, tzinfo=UTC)
    assert post.author == "" and post.author_url == ""
    connector.fetch(source("twitter_user"), FetchState(cursor=first.cursor))
    assert urlsplit(mock.calls[3].request.url).path == "/2/users/783214/tweets"  # no new lookup
    assert params(mock.calls[3])["since_id"] == "1577730467436138524"


def test_an_unknown_handle_says_so(mock: responses.RequestsMock) -> None:
    missing = {
        "errors": [
            {
                "detail": "Could not find user with username: [nobody_here].",
                "title": "Not Found Error",
            }
        ]
    }
    add_interaction(
        mock,
        "twitter/tweepy/client_get_user.interaction.json",
        url=f"{API}/users/by/username/nobody_here",
        body=missing,
    )
    with pytest.raises(FetchError, match="X has no account @nobody_here: check username"):
        TwitterUserConnector(context()).fetch(
            source("twitter_user", username="nobody_here"), FetchState()
        )


def test_a_list_pages_until_the_first_post_already_seen(mock: responses.RequestsMock) -> None:
    recording = "twitter/tweepy/client_get_list_tweets.interaction.json"
    add_interaction(mock, recording, body=last_page(recording))
    connector = TwitterListConnector(context(now=datetime(2022, 10, 8, tzinfo=UTC)))
    first = connector.fetch(source("twitter_list"), FetchState())
    sent = params(mock.calls[0])
    assert "since_id" not in sent and sent["max_results"] == "100"
    newest = max(int(t["id"]) for t in body(recording)["data"])
    assert first.cursor is not None and first.cursor.startswith(f"x1;since={newest};")
    # Next run: three new tweets on top of the same page; the page still has a next_token.
    template = body(recording)["data"][0]
    new = [
        dict(template, id=str(newest + n), edit_history_tweet_ids=[str(newest + n)])
        for n in (3, 2, 1)
    ]
    add_interaction(mock, recording, body=body(recording, data=new + body(recording)["data"]))
    again = connector.fetch(source("twitter_list"), FetchState(cursor=first.cursor))
    assert len(mock.calls) == 2  # stopped at the first seen tweet: no second page
    assert "since_id" not in params(mock.calls[1])
    assert sorted(by_id(again)) == sorted(t["id"] for t in new)
    assert again.cursor is not None and again.cursor.startswith(f"x1;since={newest + 3};")


# --- errors -----------------------------------------------------------------------


def test_rate_limit_waits_until_x_rate_limit_reset(mock: responses.RequestsMock) -> None:
    add_interaction(
        mock, "twitter/errors/search_recent_429_rate_limited.interaction.json", url=SEARCH
    )
    now = datetime(2022, 10, 7, 22, 45, tzinfo=UTC)
    with pytest.raises(RateLimited) as info:
        TwitterSearchConnector(context(now=now)).fetch(source(), FetchState())
    assert info.value.retry_after == datetime.fromtimestamp(1665183229, UTC)
    assert "rate limited by X (429)" in info.value.message
    assert len(mock.calls) == 1  # tweepy did not sleep and retry


def test_a_usage_cap_waits_for_next_month_not_the_reset(mock: responses.RequestsMock) -> None:
    add_interaction(
        mock,
        "twitter/errors/usage_capped_429.interaction.json",
        url=SEARCH,
        headers={"x-rate-limit-reset": "1665183229"},
    )
    now = datetime(2022, 12, 7, 22, 45, tzinfo=UTC)
    with pytest.raises(RateLimited) as info:
        TwitterSearchConnector(context(now=now)).fetch(source(), FetchState())
    assert info.value.retry_after == datetime(2023, 1, 1, tzinfo=UTC)
    assert "monthly usage cap is exhausted" in info.value.message


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_says_what_to_renew_and_where(
    mock: responses.RequestsMock, status: int
) -> None:
    unauthorized = {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": status,
        "detail": "Unauthorized",
    }
    add_interaction(mock, BREXIT, url=SEARCH, status=status, body=unauthorized)
    with pytest.raises(AuthError) as info:
        TwitterSearchConnector(context()).fetch(source(), FetchState())
    assert f"({status}" in info.value.message
    assert (
        "X developer portal" in info.value.message and "TWITTER_BEARER_TOKEN" in info.value.message
    )


def test_no_token_is_an_auth_error_before_any_request(mock: responses.RequestsMock) -> None:
    with pytest.raises(AuthError, match=r"no bearer token: set \[twitter\] bearer_token_env"):
        TwitterListConnector(context(token=None)).fetch(source("twitter_list"), FetchState())
    assert len(mock.calls) == 0


def test_a_refused_query_shows_what_x_said(mock: responses.RequestsMock) -> None:
    add_interaction(mock, "twitter/errors/invalid_request_400.interaction.json")
    with pytest.raises(FetchError, match=r"\(400\): The 'query' parameter is required\."):
        TwitterSearchConnector(context()).fetch(source(), FetchState())


def test_errors_beside_data_are_a_problem_and_the_posts_are_kept(
    mock: responses.RequestsMock,
) -> None:
    search(mock, last_page(KPOP))
    result = TwitterSearchConnector(context()).fetch(source(), FetchState())
    assert result.problem == "X could not return 1 item(s): User has been suspended: [leeseunggi]."
    assert len(result.posts) > 20


def test_a_later_page_failing_keeps_the_first(mock: responses.RequestsMock) -> None:
    search(mock, body(BREXIT))
    mock.add("GET", SEARCH, status=503, json={"title": "Service Unavailable"})
    result = TwitterSearchConnector(context()).fetch(source(), FetchState())
    assert "1440716895355764743" in by_id(result)
    assert result.problem == "page 2 failed: server error (503)"


def test_a_network_failure_is_a_fetch_error(mock: responses.RequestsMock) -> None:
    mock.add("GET", SEARCH, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(FetchError, match="connection timed out after 7 s"):
        TwitterSearchConnector(context()).fetch(source(), FetchState())


@pytest.mark.parametrize(
    "text", ["<html>Over capacity</html>", '{"data": {"id": 1}, "meta": []}', "[1]"]
)
def test_a_malformed_body_is_a_parse_error(mock: responses.RequestsMock, text: str) -> None:
    mock.add("GET", SEARCH, body=text, content_type="application/json")
    with pytest.raises(ParseError):
        TwitterSearchConnector(context()).fetch(source(), FetchState())


def test_a_malformed_tweet_is_skipped_and_reported(mock: responses.RequestsMock) -> None:
    page = last_page(BREXIT)
    page["data"][0] = {"id": page["data"][0]["id"]}  # no text
    search(mock, page)
    result = TwitterSearchConnector(context()).fetch(source(), FetchState())
    assert result.problem == "skipped 1 malformed tweet(s)" and len(result.posts) > 20


# --- check ------------------------------------------------------------------------


def test_check_makes_one_user_lookup(mock: responses.RequestsMock) -> None:
    add_interaction(
        mock, "twitter/tweepy/client_get_user.interaction.json", url=f"{API}/users/by/username/X"
    )
    assert TwitterSearchConnector(context()).check(source()) == []
    assert (
        len(mock.calls) == 1
        and mock.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    )


def test_check_reports_a_refused_token_and_a_budget_below_one_page(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", f"{API}/users/by/username/X", status=401, json={"title": "Unauthorized"})
    found = TwitterSearchConnector(context()).check(source(budget=20))
    assert found[0] == (
        "max_posts_per_day = 20 is below one page of X search results "
        "(30 reads): raise it to at least 30"
    )
    assert found[1].startswith("X refused the bearer token (401)")
    assert (
        TwitterUserConnector(context(token=None))
        .check(source("twitter_user"))[0]
        .startswith("no bearer token")
    )


# --- secrets ----------------------------------------------------------------------


def test_the_token_is_never_in_a_message_a_post_or_a_log(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    search(mock, body(BREXIT))
    mock.add("GET", SEARCH, status=401, json={"title": "Unauthorized"})
    add_interaction(mock, "twitter/errors/usage_capped_429.interaction.json", url=SEARCH)
    connector = TwitterSearchConnector(context())
    result = connector.fetch(source(), FetchState())
    messages = [result.problem or "", result.cursor or ""]
    for _ in range(2):
        with pytest.raises(SourceError) as info:
            connector.fetch(source(), FetchState())
        messages += [info.value.message, str(info.value)]
    shown = [str(dataclasses.astuple(post)) for post in result.posts] + messages + [caplog.text]
    assert caplog.text and "Bearer" in caplog.text  # tweepy did log its request headers
    assert not [text for text in shown if SECRET in text or SECRET[:12] in text]

"""The bluesky_search connector on the recorded bsky.social exchanges (tests/data/http/bluesky)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aggregator.app.credentials import CredentialGate
from aggregator.config.types import Config
from aggregator.domain.errors import AuthError, FetchError, ParseError, RateLimited, SourceError
from aggregator.domain.post import Post
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.bluesky import connector as bluesky
from connectors.bluesky.connector import BlueskySearchConnector
from connectors.http.guard import make_session
from tests.fakes import T0, FixedClock
from tests.http_fixtures import add_interaction, load_interaction

XRPC = "https://bsky.social/xrpc/"
LOGIN = XRPC + "com.atproto.server.createSession"
REFRESH = XRPC + "com.atproto.server.refreshSession"
SEARCH = XRPC + "app.bsky.feed.searchPosts"
RECORDED = "bluesky/searchPosts_redistricting.interaction.json"
# Recognisable fakes: none of them may show up in any message, log line or post.
HANDLE = "teacher.bsky.social"
PASSWORD = "pw-SECRET-abcd-efgh"
ACCESS = "jwt-ACCESS-SECRET-111"
REFRESHED = "jwt-ACCESS-SECRET-222"
REFRESH_JWT = "jwt-REFRESH-SECRET-333"
SECRETS = (PASSWORD, ACCESS, REFRESHED, REFRESH_JWT, "SECRET")
# The newest post of the recording: createdAt 17:10:09.561858, indexedAt 17:10:09.813.
NEWEST = "2025-05-19T17:10:09.561858Z"


def source(key: str = "edchat", query: str = "redistricting") -> SourceConfig:
    return SourceConfig(
        key=key,
        kind="bluesky_search",
        options=(
            ("query", query),
            ("handle_env", "BSKY_HANDLE"),
            ("app_password_env", "BSKY_APP_PASSWORD"),
        ),
    )


CONFIG = Config(secrets=(Secret("BSKY_HANDLE", HANDLE), Secret("BSKY_APP_PASSWORD", PASSWORD)))


def connector(clock: FixedClock | None = None) -> BlueskySearchConnector:
    context = ConnectorContext(make_session("PLN-Digest/test"), CONFIG, clock or FixedClock())
    return BlueskySearchConnector(context)


def fetch_run(conn: BlueskySearchConnector, *keys: str) -> list[SourceError]:
    """One `pln fetch` run over sources `keys` of the same handle, as ingest
    runs them (through a run's credential gate): the error of each."""
    gate = CredentialGate(CONFIG)
    errors = []
    for key in keys:
        with pytest.raises(SourceError) as caught, gate.use(source(key)):
            conn.fetch(source(key), FetchState())
        errors.append(caught.value)
    return errors


def recorded_posts() -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = load_interaction(RECORDED)["response"]["json"]["posts"]
    return posts


def add_login(mock: responses.RequestsMock, **overrides: Any) -> None:
    session = load_interaction("bluesky/createSession_200.interaction.json")["response"]["json"]
    body = {**session, "accessJwt": ACCESS, "refreshJwt": REFRESH_JWT, **overrides}
    add_interaction(mock, "bluesky/createSession_200.interaction.json", body=body)


def add_search(mock: responses.RequestsMock, body: Any = None, **kwargs: Any) -> None:
    add_interaction(mock, RECORDED, body=body, **kwargs)


def calls_to(mock: responses.RequestsMock, url: str) -> list[Any]:
    return [c for c in mock.calls if c.request.url.split("?")[0] == url]


def params(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


def by_rkey(posts: tuple[Post, ...], rkey: str) -> Post:
    return next(p for p in posts if p.external_id.endswith("/" + rkey))


# --- first fetch ---------------------------------------------------------------


def test_first_fetch_logs_in_and_turns_the_recording_into_posts(mock: Any) -> None:
    add_login(mock)
    add_search(mock)
    add_search(mock, body={"posts": []})  # the recording's cursor "25" leads to an empty page

    result = connector().fetch(source(), FetchState())

    assert len(result.posts) == 25 and result.problem is None
    assert result.cursor == "since:" + NEWEST
    login = calls_to(mock, LOGIN)
    assert len(login) == 1
    assert json.loads(login[0].request.body) == {"identifier": HANDLE, "password": PASSWORD}
    first, second = calls_to(mock, SEARCH)
    assert params(first) == {"q": ["redistricting"], "limit": ["25"], "sort": ["latest"]}
    assert params(second)["cursor"] == ["25"] and "since" not in params(second)
    assert first.request.headers["Authorization"] == f"Bearer {ACCESS}"


def test_a_post_keeps_author_permalink_counts_and_expanded_links(mock: Any) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()})

    posts = connector().fetch(source(), FetchState()).posts

    # Facet offsets are UTF-8 bytes: the 🧵 before the link shifts them by 3.
    thread = by_rkey(posts, "3lpjy3eabqs2l")
    link = "https://drive.google.com/file/d/1PvWocH9A_Kn_cxRX8uDoMsfDwqbVGkGk/view?usp=sharing"
    assert thread.network == "bluesky"
    assert (
        thread.external_id
        == "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjy3eabqs2l"
    )
    assert thread.url == "https://bsky.app/profile/mcpli.bsky.social/post/3lpjy3eabqs2l"
    assert thread.author == "Michael Li (李之樸) (@mcpli.bsky.social)"
    assert thread.author_url == "https://bsky.app/profile/mcpli.bsky.social"
    assert thread.text.endswith(
        "a thread 🧵\n\nFirst up, the brief of the LULAC plaintiffs:\n\n" + link
    )
    assert thread.links == (link,)
    assert f'<a href="{link}" rel="noopener noreferrer">{link}</a>' in thread.html
    assert thread.published_at == datetime(2025, 5, 19, 16, 20, 29, 109000, tzinfo=UTC)
    assert (thread.engagement.likes, thread.engagement.reposts, thread.engagement.replies) == (
        13,
        6,
        1,
    )
    assert thread.language == "en" and thread.title is None
    assert thread.image_url is not None and "/feed_fullsize/" in thread.image_url
    tagged = by_rkey(posts, "3lpica7sxmk2u")
    assert tagged.hashtags == ("txlege",) and tagged.engagement.quotes == 1


def test_link_cards_and_quotes_become_links(mock: Any) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()})

    posts = connector().fetch(source(), FetchState()).posts

    card = by_rkey(posts, "3lpk2r5h5ec2j")  # external#view
    assert card.text.endswith("\n\nThe Pawn or the Collaborator?")
    assert card.links == (
        "https://open.substack.com/pub/christackett/p/the-pawn-or-the-collaborator"
        "?r=92vnq&utm_medium=ios",
    )
    assert card.image_url is not None and "feed_thumbnail" in card.image_url
    quote = by_rkey(posts, "3lpjl6vjfes2b")  # record#view
    quoted = "https://bsky.app/profile/marcelias.bsky.social/post/3lpjgwfr3gs27"
    assert quote.links == (quoted,) and quote.text.endswith(
        f"Quoting @marcelias.bsky.social: {quoted}"
    )
    assert f'Quoting <a href="{quoted}"' in quote.html


def test_quotes_with_media_and_images_from_the_other_recordings(mock: Any) -> None:
    quotes = load_interaction("bluesky/getQuotes.interaction.json")["response"]["json"]["posts"]
    single = load_interaction("bluesky/getPosts.interaction.json")["response"]["json"]["posts"]
    add_login(mock)
    add_search(mock, body={"posts": quotes + single})

    posts = connector().fetch(source(), FetchState()).posts

    with_media = by_rkey(posts, "3lc5d6zspys2c")  # recordWithMedia#view: a card and a quote
    quoted = "https://bsky.app/profile/bskyr.bsky.social/post/3lc5c5qv72r2w"
    assert {"https://christophertkenny.com/bskyr/", quoted} <= set(with_media.links)
    assert with_media.text.endswith(
        f"\n\nInteract with Bluesky Social https://christophertkenny.com/bskyr/"
        f"\n\nQuoting @bskyr.bsky.social: {quoted}"
    )
    assert with_media.image_url is not None and "feed_thumbnail" in with_media.image_url
    photo = by_rkey(posts, "3k7qmjev5lr2s")  # images#view
    assert photo.image_url is not None and "/feed_fullsize/" in photo.image_url
    assert photo.links == ("http://localview.net", "https://rstats.ai/gov.html")
    assert "(http://localview.net)" in photo.text


def test_a_quoted_post_is_a_link_not_a_post_and_repeats_are_stored_once(mock: Any) -> None:
    # Search returns original posts only (no reposts); a quote embeds another
    # post, which must not become a post of this source, and a post repeated on
    # the next page is kept once.
    quotes = load_interaction("bluesky/getQuotes.interaction.json")["response"]["json"]["posts"]
    add_login(mock)
    add_search(mock, body={"posts": quotes, "cursor": "2"})
    add_search(mock, body={"posts": quotes[:1]})

    posts = connector().fetch(source(), FetchState()).posts

    ids = [p.external_id for p in posts]
    assert len(ids) == len(set(ids)) == len(quotes)
    assert "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3lc5c5qv72r2w" not in ids


def test_a_future_date_is_clamped_to_now(mock: Any) -> None:
    clock = FixedClock(datetime(2025, 5, 19, 12, 0, tzinfo=UTC))
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()})

    posts = connector(clock).fetch(source(), FetchState()).posts

    assert max(p.published_at for p in posts) == clock.now
    assert min(p.published_at for p in posts) < clock.now


# --- incremental, paging -----------------------------------------------------------


def test_refetch_asks_only_for_newer_posts_and_keeps_the_cursor_when_nothing_is_new(
    mock: Any,
) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()[:7], "cursor": "7"})
    since = "since:2025-05-19T14:02:17.260Z"  # sortAt of the 7th post (3lpjqeajtgc27)
    conn = connector()

    result = conn.fetch(source(), FetchState(cursor=since))

    (call,) = calls_to(mock, SEARCH)  # the page reached what is known: no next page
    assert params(call)["since"] == ["2025-05-19T14:02:17.260000Z"]
    assert len(result.posts) == 6 and result.cursor == "since:" + NEWEST

    add_search(mock, body={"posts": recorded_posts()[:1]})  # only the known newest post
    again = conn.fetch(source(), FetchState(cursor=result.cursor))
    assert again.posts == () and again.cursor == result.cursor
    assert params(calls_to(mock, SEARCH)[-1])["since"] == [NEWEST]


def test_paging_follows_the_cursor_up_to_the_page_cap(mock: Any) -> None:
    add_login(mock)
    for page in range(bluesky.MAX_PAGES + 2):
        add_search(mock, body={"posts": recorded_posts(), "cursor": str(25 * (page + 1))})

    result = connector().fetch(source(), FetchState())

    searches = calls_to(mock, SEARCH)
    assert len(searches) == bluesky.MAX_PAGES
    assert [params(c).get("cursor") for c in searches] == [None, ["25"], ["50"], ["75"]]
    assert len(result.posts) == 25 and result.problem is None


def test_a_cursor_that_does_not_move_ends_the_paging(mock: Any) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts(), "cursor": "25"})
    add_search(mock, body={"posts": recorded_posts(), "cursor": "25"})
    add_search(mock, body={"posts": recorded_posts(), "cursor": "25"})

    connector().fetch(source(), FetchState())

    assert len(calls_to(mock, SEARCH)) == 2


# --- the session: once per handle, refreshed, never a second login ---------------------


def test_two_sources_with_the_same_handle_log_in_once(mock: Any) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()})
    conn = connector()

    conn.fetch(source("one"), FetchState())
    conn.fetch(source("two", query="gerrymandering"), FetchState())
    assert conn.check(source("three")) == []

    assert len(calls_to(mock, LOGIN)) == 1
    searches = calls_to(mock, SEARCH)
    assert [params(c)["q"] for c in searches] == [
        ["redistricting"],
        ["gerrymandering"],
        ["redistricting"],
    ]
    assert params(searches[-1])["limit"] == ["1"]  # check is one cheap call
    assert all(c.request.headers["Authorization"] == f"Bearer {ACCESS}" for c in searches)


def test_sources_fetched_in_parallel_share_one_login(mock: Any) -> None:
    # ingest fetches sources in threads: they must wait for the one login,
    # which takes a while here so that they all arrive during it.
    session = {"accessJwt": ACCESS, "refreshJwt": REFRESH_JWT, "handle": HANDLE, "did": "did:plc:x"}

    def slow_login(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(0.05)
        return 200, {}, json.dumps(session)

    mock.add_callback("POST", LOGIN, callback=slow_login, content_type="application/json")
    add_search(mock, body={"posts": recorded_posts()})
    conn = connector()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda key: conn.fetch(source(key), FetchState()), map(str, range(8)))
        )

    assert [len(r.posts) for r in results] == [25] * 8
    assert len(calls_to(mock, LOGIN)) == 1


def test_an_expired_access_token_is_refreshed_not_logged_in_again(mock: Any) -> None:
    add_login(mock)
    add_search(mock, body={"posts": recorded_posts()})
    expired = {"error": "ExpiredToken", "message": "Token has expired"}
    add_search(mock, status=400, body=expired)
    add_search(mock, body={"posts": recorded_posts()})
    mock.add(
        "POST",
        REFRESH,
        json={
            "accessJwt": REFRESHED,
            "refreshJwt": REFRESH_JWT + "b",
            "handle": HANDLE,
            "did": "did:plc:x",
        },
    )
    conn = connector()
    conn.fetch(source("one"), FetchState())

    result = conn.fetch(source("two"), FetchState())

    assert len(result.posts) == 25
    assert len(calls_to(mock, LOGIN)) == 1
    (refresh,) = calls_to(mock, REFRESH)
    assert refresh.request.headers["Authorization"] == f"Bearer {REFRESH_JWT}"
    assert calls_to(mock, SEARCH)[-1].request.headers["Authorization"] == f"Bearer {REFRESHED}"


def test_a_refused_refresh_is_an_auth_error_and_no_new_login(mock: Any) -> None:
    add_login(mock)
    add_search(mock, status=400, body={"error": "ExpiredToken", "message": "Token has expired"})
    mock.add(
        "POST", REFRESH, status=400, json={"error": "ExpiredToken", "message": "Token has expired"}
    )
    conn = connector()

    errors = fetch_run(conn, "one", "two")

    assert all(isinstance(e, AuthError) for e in errors)
    assert "could not be refreshed (400 ExpiredToken)" in errors[0].message
    assert errors[1].message == errors[0].message
    assert len(calls_to(mock, LOGIN)) == 1 and len(calls_to(mock, REFRESH)) == 1


def test_a_token_refused_even_after_refresh_is_an_auth_error(mock: Any) -> None:
    add_login(mock)
    add_search(
        mock, status=401, body={"error": "AuthenticationRequired", "message": "Invalid token"}
    )
    mock.add("POST", REFRESH, json={"accessJwt": REFRESHED, "refreshJwt": REFRESH_JWT})

    with pytest.raises(AuthError) as caught:
        connector().fetch(source(), FetchState())

    assert caught.value.message == (
        "Bluesky refused the session even after a refresh "
        "(401 AuthenticationRequired): check BSKY_HANDLE and BSKY_APP_PASSWORD"
    )
    assert len(calls_to(mock, SEARCH)) == 2


# --- errors -------------------------------------------------------------------------


def test_bad_credentials_refuse_every_source_of_the_handle_with_one_login(mock: Any) -> None:
    add_interaction(mock, "bluesky/createSession_401.interaction.json")
    conn = connector()

    errors = fetch_run(conn, "one", "two")

    assert all(isinstance(e, AuthError) for e in errors)
    assert [e.source_key for e in errors] == ["one", "two"]
    assert (
        errors[0].message
        == errors[1].message
        == (
            "Bluesky login refused (401): check BSKY_HANDLE and BSKY_APP_PASSWORD "
            "(an app password from Settings > Privacy and security > App passwords)"
        )
    )
    assert len(calls_to(mock, LOGIN)) == 1 and calls_to(mock, SEARCH) == []


def test_a_refused_login_is_tried_again_by_the_next_run(mock: Any) -> None:
    add_interaction(mock, "bluesky/createSession_401.interaction.json")
    conn = connector()
    fetch_run(conn, "one")  # the admin then fixes the app password
    mock.replace("POST", LOGIN, json={"accessJwt": ACCESS, "refreshJwt": REFRESH_JWT})
    add_search(mock, body={"posts": recorded_posts()})

    result = conn.fetch(source("one"), FetchState())

    assert len(result.posts) == 25
    assert len(calls_to(mock, LOGIN)) == 2


def test_a_refused_refresh_logs_in_again_next_run(mock: Any) -> None:
    add_login(mock)
    add_search(mock, status=400, body={"error": "ExpiredToken", "message": "Token has expired"})
    add_search(mock, body={"posts": recorded_posts()})
    mock.add(
        "POST", REFRESH, status=400, json={"error": "ExpiredToken", "message": "Token has expired"}
    )
    conn = connector()
    fetch_run(conn, "one")

    result = conn.fetch(source("one"), FetchState())

    assert len(result.posts) == 25
    assert len(calls_to(mock, LOGIN)) == 2


def test_the_login_limit_postpones_every_source_of_the_handle_until_the_reset(mock: Any) -> None:
    reset = T0 + timedelta(hours=5)
    add_interaction(
        mock,
        "bluesky/createSession_401.interaction.json",
        status=429,
        headers={"RateLimit-Reset": str(int(reset.timestamp()))},
        body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    conn = connector()

    for key in ("one", "two"):
        with pytest.raises(RateLimited) as caught:
            conn.fetch(source(key), FetchState())
        assert caught.value.retry_after == reset and "login" in caught.value.message

    assert len(calls_to(mock, LOGIN)) == 1


def test_after_the_login_limit_resets_a_login_is_tried_again(mock: Any) -> None:
    reset = T0 + timedelta(hours=5)
    mock.add(
        "POST",
        LOGIN,
        status=429,
        headers={"RateLimit-Reset": str(int(reset.timestamp()))},
        json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    clock = FixedClock()
    conn = connector(clock)
    with pytest.raises(RateLimited):
        conn.fetch(source(), FetchState())
    mock.replace("POST", LOGIN, json={"accessJwt": ACCESS, "refreshJwt": REFRESH_JWT})
    add_search(mock, body={"posts": recorded_posts()})

    clock.advance(hours=5, seconds=1)
    result = conn.fetch(source(), FetchState())

    assert len(result.posts) == 25
    assert len(calls_to(mock, LOGIN)) == 2


def test_a_rate_limited_search_waits_until_ratelimit_reset(mock: Any) -> None:
    reset = T0 + timedelta(seconds=240)
    add_login(mock)
    headers = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(reset.timestamp()))}
    add_search(
        mock,
        status=429,
        headers=headers,
        body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )

    with pytest.raises(RateLimited) as caught:
        connector().fetch(source(), FetchState())

    assert caught.value.retry_after == reset
    assert (
        caught.value.message
        == "Bluesky rate limit reached (429); waiting until 2026-11-30 12:04 UTC"
    )


def test_an_unauthenticated_403_says_a_login_is_needed(mock: Any) -> None:
    add_login(mock)
    add_interaction(mock, "bluesky/synthetic_searchPosts_403.interaction.json")

    with pytest.raises(AuthError, match=r"\(403\): searchPosts needs a logged-in session"):
        connector().fetch(source(), FetchState())


def test_a_refused_query_shows_the_xrpc_error(mock: Any) -> None:
    # The recorded XRPC 400 shape (from createRecord), answered to a search.
    recorded = load_interaction("bluesky/createRecord_400_InvalidRequest.interaction.json")[
        "response"
    ]
    add_login(mock)
    add_search(mock, status=400, body=recorded["json"])

    with pytest.raises(FetchError) as caught:
        connector().fetch(source(), FetchState())

    assert caught.value.message.startswith(
        "Bluesky refused the search (400 InvalidRequest: Invalid app.bsky"
    )
    assert caught.value.message.endswith("check the query")
    assert calls_to(mock, REFRESH) == []  # not an auth problem: no refresh


@pytest.mark.parametrize(
    "body", ["<html>Bad gateway</html>", "[]", '{"cursor": "1"}', '{"posts": {}}']
)
def test_a_malformed_first_page_is_a_parse_error(mock: Any, body: str) -> None:
    add_login(mock)
    add_search(mock, body=body)

    with pytest.raises(ParseError, match="Bluesky"):
        connector().fetch(source(), FetchState())


def test_a_later_page_failing_keeps_the_first_page_and_records_a_problem(mock: Any) -> None:
    add_login(mock)
    add_search(mock)
    add_search(mock, status=502, body={"error": "UpstreamFailure", "message": "Upstream Failure"})

    result = connector().fetch(source(), FetchState())

    assert len(result.posts) == 25 and result.cursor == "since:" + NEWEST
    assert result.problem == "page 2 of the search failed: server error (502)"


def test_malformed_posts_are_skipped_and_reported(mock: Any) -> None:
    posts = recorded_posts()
    broken = [
        {"uri": "at://did:plc:x/app.bsky.feed.post/abc"},
        {**posts[1], "record": "text"},
        "post",
    ]
    add_login(mock)
    add_search(mock, body={"posts": [*broken, posts[0]]})

    result = connector().fetch(source(), FetchState())

    assert [p.external_id for p in result.posts] == [posts[0]["uri"]]
    assert result.problem == "skipped 2 malformed post(s) in the search results"


def test_a_session_without_tokens_is_a_parse_error(mock: Any) -> None:
    add_login(mock, accessJwt=None)

    with pytest.raises(ParseError, match="no access or refresh token"):
        connector().fetch(source(), FetchState())


# --- secrets --------------------------------------------------------------------------


def test_no_secret_reaches_a_message_a_log_line_a_cursor_or_a_post(
    mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_login(mock)
    add_search(mock)
    add_search(mock, status=400, body={"error": "ExpiredToken", "message": f"bad {ACCESS}"})
    mock.add(
        "POST", REFRESH, status=401, json={"error": "InvalidToken", "message": "Token is invalid"}
    )
    conn = connector()

    result = conn.fetch(source("one"), FetchState())
    seen: list[str] = [str(result.cursor), str(result.problem)]
    for post in result.posts:
        seen += [str(getattr(post, f.name)) for f in dataclasses.fields(post)]
    for key in ("two", "three"):
        with pytest.raises(SourceError) as caught:
            conn.fetch(source(key), FetchState())
        seen += [str(caught.value), repr(caught.value)]
    seen += conn.check(source("four"))
    seen += [record.getMessage() for record in caplog.records]

    assert len(seen) > 25 * 10
    leaks = [text for text in seen if any(secret in text for secret in SECRETS) or HANDLE in text]
    assert leaks == []

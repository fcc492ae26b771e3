"""The mastodon_tag connector on Mastodon.py's recorded exchanges (tests/data/http/mastodon).

The recordings were made against a local Mastodon 4.6.4 and mastodon.social;
the tag timeline is the same request on every instance, so they are served
here at the instance the test source names, their `Link` headers rewritten
to match.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from aggregator.config.types import Config
from aggregator.domain.errors import AuthError, FetchError, ParseError, RateLimited, SourceError
from aggregator.domain.post import Engagement, Post
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.http.guard import make_session
from connectors.mastodon.connector import MastodonTagConnector
from tests.http_fixtures import add_interaction, load_interaction

NOW = datetime(2026, 8, 1, 13, 58, tzinfo=UTC)
INSTANCE = "https://mastodon.social"
TIMELINE = f"{INSTANCE}/api/v1/timelines/tag/edchat"
SOURCE = SourceConfig("edchat", "mastodon_tag", options=(("instance", INSTANCE), ("tag", "edchat")))
TOKEN_ENV = "MASTODON_TOKEN"
FAKE_TOKEN = "mstdn-FAKE-7f3a9c2e-do-not-leak"
TOKEN_SOURCE = SourceConfig(
    "edchat",
    "mastodon_tag",
    options=(("instance", INSTANCE), ("tag", "edchat"), ("token_env", TOKEN_ENV)),
)
RECORDED_TL = (
    "http://localhost:3000/api/v1/timelines/tag/fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
)
PAGE_31_NEWEST = "117020582251615632"
PAGE_31_OLDEST = "117020582177108552"


def connector(max_pages: int = 5, now: datetime = NOW) -> MastodonTagConnector:
    config = Config(secrets=(Secret(TOKEN_ENV, FAKE_TOKEN),))
    ctx = ConnectorContext(
        session=make_session("PLN-Digest/test"), config=config, clock=lambda: now
    )
    return MastodonTagConnector(ctx, max_pages=max_pages)


def page(mock: responses.RequestsMock, name: str, **overrides: Any) -> None:
    """Serve a recorded tag timeline page at TIMELINE, its Link pointing there too."""
    recorded = load_interaction(f"mastodon/{name}.interaction.json")
    link = recorded["response"]["headers"].get("link", "")
    link = link.replace(RECORDED_TL, TIMELINE).replace(
        "http://localhost:3000/api/v1/timelines/tag/hoot", TIMELINE
    )
    headers = {"link": link} if link else {}
    headers.update(overrides.pop("headers", {}))
    add_interaction(
        mock, f"mastodon/{name}.interaction.json", url=TIMELINE, headers=headers, **overrides
    )


def status(name: str) -> dict[str, Any]:
    """The status of a recorded single-status exchange."""
    body: dict[str, Any] = load_interaction(f"mastodon/{name}.interaction.json")["response"]["json"]
    return copy.deepcopy(body)


def timeline(mock: responses.RequestsMock, statuses: list[Any], link: str = "") -> None:
    """A tag timeline page made of recorded statuses."""
    mock.add("GET", TIMELINE, json=statuses, headers={"link": link} if link else {})


def params(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def by_id(result: FetchResult) -> dict[str, Post]:
    return {post.external_id: post for post in result.posts}


@pytest.fixture
def mock() -> Any:
    # Not all registered pages must be asked for: the tests of caps and guards count calls.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# --- first fetch, incremental fetch, paging ----------------------------------------


def test_first_fetch_reads_the_tag_timeline_and_turns_statuses_into_posts(mock: Any) -> None:
    page(mock, "tag_timeline_hoot")
    page(mock, "tag_timeline_paged.34")  # the page past the end: []
    result = connector().fetch(SOURCE, FetchState())

    first, second = mock.calls
    assert urlsplit(first.request.url).path == "/api/v1/timelines/tag/edchat"
    assert params(first) == {"limit": ["40"]}
    assert "Authorization" not in first.request.headers  # no token needed on most instances
    assert params(second) == {"limit": ["40"], "max_id": ["117020593741189701"]}
    (post,) = result.posts
    assert post.external_id == "117020593741189701"
    assert post.network == "mastodon"
    assert post.url == "http://localhost:3000/@mastodonpy_test_2/117020593741189701"
    assert post.author == "@mastodonpy_test_2@mastodon.social"  # no display name: the handle
    assert post.title is None
    assert post.text == "#hoot (hashtag toot)"
    assert 'class="' not in post.html and "#<span>" not in post.html
    assert post.published_at == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
    assert post.hashtags == ("hoot",)
    assert post.language == "ja"
    assert post.links == ()  # a hashtag link is not a shared link
    assert result.cursor == "min_id:117020593741189701"
    assert result.problem is None


def test_a_rerun_asks_only_for_newer_posts_and_keeps_its_cursor_when_none_came(mock: Any) -> None:
    page(mock, "tag_timeline_paged.35")  # recorded answer to min_id=<newest>: []
    result = connector().fetch(SOURCE, FetchState(cursor=f"min_id:{PAGE_31_NEWEST}"))

    (call,) = mock.calls
    assert params(call) == {"limit": ["40"], "min_id": [PAGE_31_NEWEST]}
    assert result.posts == ()
    assert result.cursor == f"min_id:{PAGE_31_NEWEST}"


def test_a_rerun_pages_forward_through_newer_posts_and_moves_its_cursor(mock: Any) -> None:
    page(mock, "tag_timeline_paged.31")  # what min_id=<newest of page 32> answers
    page(mock, "tag_timeline_paged.35")
    result = connector().fetch(SOURCE, FetchState(cursor="min_id:117020582169338211"))

    first, second = mock.calls
    assert params(first) == {"limit": ["40"], "min_id": ["117020582169338211"]}
    assert params(second) == {"limit": ["40"], "min_id": [PAGE_31_NEWEST]}  # rel="prev"
    assert len(result.posts) == 10
    assert result.cursor == f"min_id:{PAGE_31_NEWEST}"


def test_paging_back_follows_next_links_until_the_empty_page(mock: Any) -> None:
    for n in (31, 32, 33, 34):
        page(mock, f"tag_timeline_paged.{n}")
    result = connector().fetch(SOURCE, FetchState())

    assert [params(c).get("max_id") for c in mock.calls] == [
        None,
        [PAGE_31_OLDEST],
        ["117020582097668259"],
        ["117020582018205171"],
    ]
    assert len(result.posts) == 30 and len(by_id(result)) == 30
    assert result.cursor == f"min_id:{PAGE_31_NEWEST}"


def test_paging_stops_at_the_page_cap(mock: Any) -> None:
    for n in (31, 32, 33, 34):
        page(mock, f"tag_timeline_paged.{n}")
    result = connector(max_pages=2).fetch(SOURCE, FetchState())

    assert len(mock.calls) == 2
    assert len(result.posts) == 20
    assert result.cursor == f"min_id:{PAGE_31_NEWEST}"
    assert result.problem is None


def test_a_first_fetch_does_not_page_back_past_the_digest_window(mock: Any) -> None:
    page(mock, "tag_timeline_paged.31")
    page(mock, "tag_timeline_paged.32")
    result = connector(now=datetime(2026, 8, 3, tzinfo=UTC)).fetch(SOURCE, FetchState())

    assert len(mock.calls) == 1  # page 31 already reaches back more than 24 hours
    assert len(result.posts) == 10


def test_a_link_that_does_not_move_on_stops_the_walk(mock: Any) -> None:
    page(mock, "tag_timeline_paged.31")
    page(mock, "tag_timeline_paged.31")  # asked for older posts, the server repeats itself
    page(mock, "tag_timeline_paged.32")
    result = connector().fetch(SOURCE, FetchState())

    assert len(mock.calls) == 2
    assert len(result.posts) == 10


def test_a_link_to_another_host_is_rebuilt_on_the_configured_instance(mock: Any) -> None:
    elsewhere = '<https://evil.example/steal?limit=40&max_id=117020582177108552>; rel="next"'
    page(mock, "tag_timeline_paged.31", headers={"link": elsewhere})
    page(mock, "tag_timeline_paged.34")
    connector().fetch(TOKEN_SOURCE, FetchState())

    assert [urlsplit(c.request.url).netloc for c in mock.calls] == ["mastodon.social"] * 2
    assert params(mock.calls[1])["max_id"] == [PAGE_31_OLDEST]


# --- errors ---------------------------------------------------------------------


def test_rate_limit_waits_until_the_iso_reset_time(mock: Any) -> None:
    page(mock, "tag_timeline_hoot", status=429, body={"error": "Too many requests"})
    with pytest.raises(RateLimited) as caught:
        connector().fetch(SOURCE, FetchState())

    # X-RateLimit-Reset is an ISO 8601 time, not epoch seconds
    assert caught.value.retry_after == datetime(2026, 8, 1, 14, 0, 0, 70144, tzinfo=UTC)
    assert "429" in caught.value.message and "2026-08-01 14:00:00 UTC" in caught.value.message


def test_an_instance_requiring_a_token_says_how_to_get_one(mock: Any) -> None:
    add_interaction(mock, "mastodon/home_timeline_anonymous_401.interaction.json", url=TIMELINE)
    with pytest.raises(AuthError) as caught:
        connector().fetch(SOURCE, FetchState())

    message = caught.value.message
    assert "mastodon.social requires a token" in message
    assert "Preferences > Development" in message and "read:statuses" in message
    assert "token_env" in message


def test_a_refused_token_names_its_variable_and_never_itself(mock: Any) -> None:
    add_interaction(mock, "mastodon/home_timeline_anonymous_401.interaction.json", url=TIMELINE)
    with pytest.raises(AuthError) as caught:
        connector().fetch(TOKEN_SOURCE, FetchState())

    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert TOKEN_ENV in caught.value.message and "read:statuses" in caught.value.message
    assert FAKE_TOKEN not in str(caught.value)


def test_an_unset_token_variable_is_an_auth_error_before_any_request(mock: Any) -> None:
    source = SourceConfig(
        "x",
        "mastodon_tag",
        options=(("instance", INSTANCE), ("tag", "edchat"), ("token_env", "UNSET_TOKEN")),
    )
    with pytest.raises(AuthError, match="UNSET_TOKEN"):
        connector().fetch(source, FetchState())
    assert len(mock.calls) == 0


def test_an_unknown_tag_or_path_is_a_fetch_error(mock: Any) -> None:
    add_interaction(mock, "mastodon/link_timeline_not_trending_404.interaction.json", url=TIMELINE)
    with pytest.raises(FetchError, match=r"no such tag or instance path \(404\)"):
        connector().fetch(SOURCE, FetchState())


def test_a_server_error_is_a_fetch_error(mock: Any) -> None:
    page(mock, "tag_timeline_hoot", status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(FetchError, match=r"server error \(502\)"):
        connector().fetch(SOURCE, FetchState())


def test_a_later_page_failing_keeps_the_earlier_posts_with_a_problem(mock: Any) -> None:
    page(mock, "tag_timeline_paged.31")
    page(mock, "tag_timeline_paged.32", status=500, body={"error": "boom"})
    result = connector().fetch(SOURCE, FetchState())

    assert len(result.posts) == 10
    assert result.cursor == f"min_id:{PAGE_31_NEWEST}"
    assert result.problem is not None and "page 2 failed" in result.problem
    assert "500" in result.problem


@pytest.mark.parametrize(
    "body",
    [
        '[{"id": "1", "content": "<p>cut off',
        '{"error": "not a list"}',
        "<!doctype html><p>Hi</p>",
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_body_that_is_not_a_json_list_of_statuses_is_a_parse_error(mock: Any, body: str) -> None:
    page(mock, "tag_timeline_hoot", body=body)
    with pytest.raises(ParseError):
        connector().fetch(SOURCE, FetchState())


def test_malformed_statuses_are_skipped_with_a_problem(mock: Any) -> None:
    broken_date = status("status_edited") | {"id": "117020586180926999", "created_at": "yesterday"}
    timeline(
        mock, ["not a status", {"id": "117020586180926998"}, broken_date, status("status_edited")]
    )
    result = connector().fetch(SOURCE, FetchState())

    assert [p.external_id for p in result.posts] == ["117020586180926938"]
    assert result.cursor == "min_id:117020586180926999"  # the newest id the timeline went past
    assert result.problem == "skipped 3 malformed statuses"


# --- boosts, edits, what a status carries ------------------------------------------------


def test_a_boost_is_stored_as_its_original_once_and_a_repost(mock: Any) -> None:
    boost = status("status_reblog_response")
    original = boost["reblog"]
    timeline(mock, [boost, original])
    result = connector().fetch(SOURCE, FetchState())

    post, repost = result.posts
    assert post.external_id == original["id"] == "117020586019094258"
    assert (
        post.url == "http://localhost:3000/@mastodonpy_test/117020586019094258"
    )  # not the /activity
    assert post.author == "John Lennon (@mastodonpy_test@mastodon.social)"
    assert post.text == "Toot!"
    assert post.engagement.reposts == 1
    assert post.published_at == datetime(2026, 8, 1, 13, 53, 58, 36000, tzinfo=UTC)
    assert result.cursor == "min_id:117020586027094262"  # the boost's place in the timeline
    assert not post.is_repost
    assert repost.external_id == boost["id"] and repost.repost_of == post.url == repost.url
    assert repost.author == "John Lennon (@mastodonpy_test@mastodon.social)"  # a self-boost
    assert (repost.text, repost.engagement) == ("", Engagement())
    assert repost.published_at == datetime(2026, 8, 1, 13, 53, 58, 160000, tzinfo=UTC)


def test_an_edit_changes_the_content_hash_of_the_same_post(mock: Any) -> None:
    edited = status("status_edited")
    original = edited | {"edited_at": None, "content": "<p>the best editor? vim</p>"}
    # an edit of what the text does not show (a media description, a poll) still counts
    unseen_edit = edited | {"edited_at": "2026-08-01T13:59:00.000Z"}
    for version in (original, edited, unseen_edit):
        timeline(mock, [version])
    old, new, newer = (connector().fetch(SOURCE, FetchState()).posts[0] for _ in range(3))

    assert old.external_id == new.external_id == newer.external_id
    assert len({old.content_hash, new.content_hash, newer.content_hash}) == 3
    assert "Kate" in new.text and "vim" in old.text


def test_new_likes_change_the_content_hash(mock: Any) -> None:
    liked = status("status_edited") | {"favourites_count": 3}
    timeline(mock, [status("status_edited")])
    timeline(mock, [liked])
    old = connector().fetch(SOURCE, FetchState()).posts[0]
    new = connector().fetch(SOURCE, FetchState()).posts[0]

    assert new.engagement.likes == 3 and old.engagement.likes == 0
    assert old.content_hash != new.content_hash


def test_a_content_warning_prefixes_the_post_and_sensitive_media_is_not_shown(mock: Any) -> None:
    timeline(mock, [status("mastodon_social_status.0")])
    (post,) = connector().fetch(SOURCE, FetchState()).posts

    assert post.text.startswith(
        "CW: test post for mastodon.py stuff \u2014 @halcy you're a doo-doo head"
    )
    assert post.html.startswith("<p><strong>CW: test post for mastodon.py stuff</strong></p>")
    assert post.author == "halcy\u200b :icosahedron: (@halcy@icosahedron.website)"
    assert post.author_url == "https://icosahedron.website/@halcy"
    assert post.url == "https://icosahedron.website/@halcy/110446222386355655"
    assert post.hashtags == ("thisisahashtag",)
    assert post.media_type == "video/mp4" and post.media_url is not None
    assert post.media_url.endswith("e6bdbd614788c2d1.mp4")
    assert post.image_url is None  # the status is marked sensitive
    assert post.engagement.likes == 1
    assert post.links == ()  # a mention and a hashtag, nothing shared


def test_a_video_gives_media_and_its_preview_as_the_picture(mock: Any) -> None:
    timeline(mock, [status("mastodon_social_status_video")])
    (post,) = connector().fetch(SOURCE, FetchState()).posts

    assert post.media_url is not None and post.media_url.endswith("de8b837b9615a35c.mp4")
    assert post.media_type == "video/mp4"
    assert post.image_url is not None and post.image_url.endswith("e3e301df52746ea9.png")


def test_shared_links_come_from_the_content_and_the_card_with_urls_expanded(mock: Any) -> None:
    with_card = status("mastodon_social_status_card")
    with_card["card"]["image"] = "https://files.mastodon.social/cache/preview_cards/images/k.jpg"
    timeline(mock, [with_card, status("mastodon_social_status_quote")])
    posts = by_id(connector().fetch(SOURCE, FetchState()))

    card = posts["110447098625216345"]
    soundcloud = "https://soundcloud.com/wakarangirl/popstars-dj-wakaran-girl-khard-bass-flex-1"
    assert card.links == (soundcloud,)
    assert (
        f"{soundcloud} link to soundcloud" in card.text
    )  # not the shortened "soundcloud.com/…pop"
    assert card.image_url == "https://files.mastodon.social/cache/preview_cards/images/k.jpg"
    quote = posts["115044073088181107"]
    assert "https://bsky.app/profile/h4lcy.bsky.social/post/3lwlumdwf522i" in quote.links


def test_status_html_is_sanitised(mock: Any) -> None:
    hostile = status("mastodon_social_status.1") | {
        "content": '<p onclick="x()">hi<script>alert(1)</script><img src="javascript:x"></p>'
        '<a href="/@halcy/1">rel</a>'
    }
    timeline(mock, [hostile])
    (post,) = connector().fetch(SOURCE, FetchState()).posts

    assert (
        "script" not in post.html and "onclick" not in post.html and "javascript" not in post.html
    )
    assert 'href="https://mastodon.social/@halcy/1"' in post.html  # relative to the status URL
    assert post.text == "hi rel"


def test_a_post_dated_in_the_future_is_clamped_to_now(mock: Any) -> None:
    timeline(mock, [status("status_edited") | {"created_at": "2030-01-01T00:00:00.000Z"}])
    (post,) = connector().fetch(SOURCE, FetchState()).posts
    assert post.published_at == NOW


# --- secrets, check ---------------------------------------------------------------------


def test_the_token_never_reaches_a_message_or_a_post(mock: Any) -> None:
    outputs: list[str] = []
    scenarios: list[tuple[int, Any]] = [
        (200, [status("mastodon_social_status.0"), status("status_reblog_response"), "junk"]),
        (401, {"error": "The access token is invalid"}),
        (403, {"error": "outside scopes"}),
        (404, {"error": "Record not found"}),
        (429, {"error": "slow down"}),
        (500, "oops"),
        (200, "not json"),
    ]
    for status_code, body in scenarios:
        mock.reset()
        page(
            mock,
            "tag_timeline_hoot",
            status=status_code,
            body=body,
            headers={"link": f'<{TIMELINE}?max_id=1>; rel="next"'},
        )
        mock.add("GET", TIMELINE, status=500)
        try:
            result = connector().fetch(TOKEN_SOURCE, FetchState())
            outputs.append(repr(result))
        except SourceError as exc:
            outputs += [str(exc), exc.message]
        outputs += connector().check(TOKEN_SOURCE)
    assert outputs and all(FAKE_TOKEN not in text for text in outputs)
    assert all(FAKE_TOKEN[5:15] not in text for text in outputs)


def test_check_reads_one_status_and_reports_ok(mock: Any) -> None:
    page(mock, "tag_timeline_hoot")
    assert connector().check(SOURCE) == []
    (call,) = mock.calls
    assert params(call) == {"limit": ["1"]}


def test_check_says_when_the_instance_requires_a_token(mock: Any) -> None:
    add_interaction(mock, "mastodon/home_timeline_anonymous_401.interaction.json", url=TIMELINE)
    (problem,) = connector().check(SOURCE)
    assert "requires a token" in problem and "read:statuses" in problem


def test_check_says_when_the_timeline_is_empty_and_when_the_instance_is_down(mock: Any) -> None:
    page(mock, "tag_timeline_paged.34")
    (empty,) = connector().check(SOURCE)
    assert "no posts" in empty and "token_env" in empty
    mock.reset()
    mock.add("GET", TIMELINE, body=requests.ConnectionError("refused"))
    (down,) = connector().check(SOURCE)
    assert "connect" in down

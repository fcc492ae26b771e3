"""The Facebook connectors on recorded Graph API bodies (tests/data/http/facebook/).

Bodies under sns-python-facebook/ are real Graph responses (2021); errors/
are transcribed error bodies. Both are served at the v24.0 URLs the
connector must call although facebook-sdk 3.1.0 only knows versions <= 3.1.
Hand-made variants are built in the tests from those bodies and say so.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from aggregator.config.types import Config, FacebookConfig, FetchConfig
from aggregator.domain.errors import AuthError, FetchError, ParseError, RateLimited, SourceError
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.facebook.connector import (
    FIELDS,
    MAX_PAGES,
    FacebookGroupConnector,
    FacebookPageConnector,
)
from connectors.http.guard import make_session
from tests.fakes import T0, FixedClock

DATA = Path(__file__).parents[1] / "data" / "http" / "facebook"
TOKEN = "EAAB-fake-SECRET-fb-token-7731"
GRAPH = "https://graph.facebook.com/v24.0"
PAGE_ID = "19292868552"
GROUP_ID = "2260975870792283"
POSTS_URL = f"{GRAPH}/{PAGE_ID}/posts"
GROUP_URL = f"{GRAPH}/{GROUP_ID}/feed"
PAGE = SourceConfig("fb-devs", "facebook_page", "Facebook for Developers", (("page_id", PAGE_ID),))
GROUP = SourceConfig("devc-hk", "facebook_group", "DevC Hong Kong", (("group_id", GROUP_ID),))
P1 = "sns-python-facebook/posts/feeds_default_fields_p1.json"
P2 = "sns-python-facebook/posts/feeds_default_fields_p2.json"
NEWEST = int(datetime(2021, 7, 9, 19, 9, 52, tzinfo=UTC).timestamp())


def body(relative: str) -> Any:
    """A recorded body; for a transcribed error, its `json` part."""
    data = json.loads((DATA / relative).read_text(encoding="utf-8"))
    return data["json"] if relative.startswith("errors/") else data


def serve(
    mock: responses.RequestsMock,
    url: str,
    payload: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer GET `url` (any query) with `payload` as JSON."""
    mock.add(responses.GET, url, json=payload, status=status, headers=headers or {})


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


def context(token: str | None = TOKEN, version: str = "v24.0") -> ConnectorContext:
    secret = Secret("FACEBOOK_ACCESS_TOKEN", token) if token is not None else None
    config = Config(
        facebook=FacebookConfig(access_token=secret, graph_version=version),
        fetch=FetchConfig(timeout_seconds=7),
    )
    return ConnectorContext(session=make_session("pln-test"), config=config, clock=FixedClock())


def page_connector(**kwargs: Any) -> FacebookPageConnector:
    return FacebookPageConnector(context(**kwargs))


def test_first_fetch_reads_both_recorded_pages_on_the_configured_version(mock: Any) -> None:
    serve(mock, POSTS_URL, body(P1))
    mock.add(responses.GET, POSTS_URL, json=body(P2))  # the second call gets page 2
    result = page_connector().fetch(PAGE, FetchState())

    assert len(result.posts) == 10
    assert result.problem is None
    assert result.cursor == f"since:{NEWEST}"
    first, second = (query(call) for call in mock.calls)
    assert all(c.request.url.startswith(f"{GRAPH}/{PAGE_ID}/posts?") for c in mock.calls)
    assert first["fields"] == [FIELDS] and first["limit"] == ["25"] and "since" not in first
    assert second["after"] == ["after"]  # the paging.next parameters, minus its token
    assert second["access_token"] == [TOKEN]  # exactly one token: ours


def test_a_recorded_post_becomes_a_complete_post(mock: Any) -> None:
    serve(mock, POSTS_URL, {"data": body(P1)["data"][:1]})
    post = page_connector().fetch(PAGE, FetchState()).posts[0]

    assert post.external_id == "19292868552_10158349356748553"
    assert post.network == "facebook"
    assert post.url == "https://www.facebook.com/19292868552/posts/10158349356748553/"
    assert post.author == "Facebook for Developers"  # no `from` in the recording
    assert post.title is None
    assert post.published_at == datetime(2021, 7, 9, 19, 9, 52, tzinfo=UTC)
    assert (post.engagement.likes, post.engagement.replies, post.engagement.reposts) == (
        125,
        13,
        10,
    )
    assert post.image_url is not None and post.image_url.startswith("https://scontent-ssn1-1")
    assert post.text.startswith("Singaporean logistics company Ninja Van")
    assert '<a href="https://fb.me/Ninja-Van-Success-Story" rel="noopener noreferrer">' in post.html
    assert post.links == ("https://fb.me/Ninja-Van-Success-Story",)  # the photo page is no link


def test_author_comes_from_the_from_field(mock: Any) -> None:
    raw = copy.deepcopy(body(P1)["data"][0])  # hand-made variant: `from` added
    raw["from"] = {"name": "Meta for Developers", "id": PAGE_ID}
    serve(mock, POSTS_URL, {"data": [raw]})
    assert page_connector().fetch(PAGE, FetchState()).posts[0].author == "Meta for Developers"


def test_shared_link_is_unwrapped_and_video_is_media(mock: Any) -> None:
    serve(mock, POSTS_URL, body(P1))
    serve(mock, POSTS_URL, body(P2))
    posts = {p.external_id: p for p in page_connector().fetch(PAGE, FetchState()).posts}

    link_post = posts["19292868552_10158347294088553"]  # status_type shared_story
    assert link_post.links[-1].startswith(
        "https://engineering.fb.com/2021/05/20/networking-traffic/peering-automation/"
    )
    assert not any("l.facebook.com" in url for url in link_post.links)
    assert link_post.engagement.reposts == 6  # Facebook shares are counted, not stored as posts
    video = posts["19292868552_10158316421783553"]
    assert video.media_type == "video"
    assert (
        video.media_url == "https://www.facebook.com/FacebookforDevelopers/videos/334712884667245/"
    )


def test_incremental_fetch_asks_only_for_newer_posts(mock: Any) -> None:
    serve(mock, POSTS_URL, {"data": []})
    result = page_connector().fetch(PAGE, FetchState(cursor=f"since:{NEWEST}"))

    assert query(mock.calls[0])["since"] == [str(NEWEST)]
    assert result.posts == ()
    assert result.cursor == f"since:{NEWEST}"  # nothing new: the cursor stays


def test_later_pages_of_an_incremental_fetch_keep_the_since_limit(mock: Any) -> None:
    page = body("sns-python-facebook/groups/feed_p1.json")  # its next link has an empty since
    serve(mock, POSTS_URL, page)
    serve(mock, POSTS_URL, {"data": []})
    result = page_connector().fetch(PAGE, FetchState(cursor="since:1615000000"))

    second = query(mock.calls[1])
    assert second["since"] == ["1615000000"] and second["until"] == ["1615350965"]
    assert result.cursor == "since:1625789067"  # the newest post seen, 2021-07-09T00:04:27Z


def test_the_configured_graph_version_is_called(mock: Any) -> None:
    serve(mock, f"https://graph.facebook.com/v25.0/{PAGE_ID}/posts", {"data": []})
    page_connector(version="v25.0").fetch(PAGE, FetchState())
    assert mock.calls[0].request.url.startswith("https://graph.facebook.com/v25.0/")


def test_an_edit_or_new_counts_change_the_content_hash(mock: Any) -> None:
    raw = body(P1)["data"][0]
    edited = copy.deepcopy(raw)  # hand-made variant: edited later, more reactions
    edited["updated_time"] = "2021-07-13T08:00:00+0000"
    recounted = copy.deepcopy(raw)
    recounted["reactions"]["summary"]["total_count"] = 126
    for variant in (raw, edited, recounted):
        serve(mock, POSTS_URL, {"data": [variant]})
    hashes = {page_connector().fetch(PAGE, FetchState()).posts[0].content_hash for _ in range(3)}
    assert len(hashes) == 3


def test_pagination_stops_at_the_page_cap(mock: Any) -> None:
    pages = iter(range(100))

    def endless(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        n = next(pages)  # hand-made: every page links to a new one
        page = {
            "data": [dict(body(P1)["data"][0], id=f"{PAGE_ID}_{n}")],
            "paging": {"next": f"{POSTS_URL}?access_token=REDACTED&after=c{n}"},
        }
        return 200, {}, json.dumps(page)

    mock.add_callback(responses.GET, POSTS_URL, callback=endless, content_type="application/json")
    result = page_connector().fetch(PAGE, FetchState())
    assert len(mock.calls) == MAX_PAGES
    assert len(result.posts) == MAX_PAGES


def test_a_repeated_next_link_stops_paging(mock: Any) -> None:
    serve(mock, POSTS_URL, body(P1))  # page 1 links to itself ("after=after") every time
    result = page_connector().fetch(PAGE, FetchState())
    assert len(mock.calls) == 2
    assert len(result.posts) == 5  # the same posts twice are stored once


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        pytest.param(
            {
                "X-Business-Use-Case-Usage": json.dumps(
                    {
                        PAGE_ID: [
                            {
                                "type": "pages",
                                "call_count": 100,
                                "total_cputime": 30,
                                "total_time": 40,
                                "estimated_time_to_regain_access": 30,
                            }
                        ]
                    }
                )
            },
            timedelta(minutes=30),
            id="buc-header",
        ),
        pytest.param({"X-App-Usage": "not json"}, timedelta(hours=1), id="unreadable-header"),
        pytest.param({}, timedelta(hours=1), id="no-header"),
    ],
)
def test_rate_limit_waits_until_facebook_allows_again(
    mock: Any, headers: dict[str, str], wait: timedelta
) -> None:
    serve(mock, POSTS_URL, body("errors/rate_limit_4_application.json"), 400, headers)
    with pytest.raises(RateLimited) as caught:
        page_connector().fetch(PAGE, FetchState())
    assert caught.value.retry_after == T0 + wait
    assert len(mock.calls) == 1


def test_user_rate_limit_17_is_a_rate_limit_too(mock: Any) -> None:
    serve(mock, POSTS_URL, body("errors/rate_limit_17_user.json"), 403)
    with pytest.raises(RateLimited, match=r"#17"):
        page_connector().fetch(PAGE, FetchState())


@pytest.mark.parametrize(
    ("recording", "code"),
    [
        ("errors/oauth_190_463_session_expired.json", "190/463"),
        ("errors/oauth_190_docs_example.json", "190/460"),
    ],
)
def test_expired_token_is_an_auth_error_without_retry(mock: Any, recording: str, code: str) -> None:
    serve(mock, POSTS_URL, body(recording), 400)
    with pytest.raises(AuthError) as caught:
        page_connector().fetch(PAGE, FetchState())
    assert caught.value.message == (
        f"Facebook token expired or invalid ({code}): create a new page access token "
        "and set FACEBOOK_ACCESS_TOKEN"
    )
    assert len(mock.calls) == 1


def test_missing_permission_explains_what_the_token_needs(mock: Any) -> None:
    serve(mock, POSTS_URL, body("sns-python-facebook/base/error_data.json"), 400)
    with pytest.raises(AuthError, match=r"#100.*pages_read_engagement.*Page Public Content Access"):
        page_connector().fetch(PAGE, FetchState())


def test_no_token_configured_is_an_auth_error_without_any_request(mock: Any) -> None:
    with pytest.raises(AuthError, match="access_token_env"):
        page_connector(token=None).fetch(PAGE, FetchState())
    assert len(mock.calls) == 0


def test_a_later_page_failing_keeps_the_earlier_posts(mock: Any) -> None:
    serve(mock, POSTS_URL, body(P1))
    mock.add(
        responses.GET, POSTS_URL, body="<html>oops</html>", status=500, content_type="text/html"
    )
    result = page_connector().fetch(PAGE, FetchState(cursor="since:1600000000"))

    assert len(result.posts) == 5
    assert result.problem is not None
    assert result.problem.startswith("page 2 failed: server error (500)")
    assert result.cursor == "since:1600000000"  # page 2's posts are asked for again next time


def test_a_malformed_post_is_skipped_and_reported(mock: Any) -> None:
    data = body(P1)["data"]
    del data[1]["created_time"]  # hand-made variant
    serve(mock, POSTS_URL, {"data": data})
    result = page_connector().fetch(PAGE, FetchState())
    assert len(result.posts) == 4
    assert result.problem == "skipped 1 malformed post(s)"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"data": [', "application/json"),
        ("<html>maintenance</html>", "text/html"),
        ('{"data": "nope"}', "application/json"),
    ],
    ids=["truncated-json", "html", "no-data-list"],
)
def test_malformed_body_is_a_parse_error(mock: Any, content: str, content_type: str) -> None:
    mock.add(responses.GET, POSTS_URL, body=content, content_type=content_type)
    with pytest.raises(ParseError):
        page_connector().fetch(PAGE, FetchState())


def test_a_body_over_the_cap_is_refused(mock: Any) -> None:
    ctx = context()
    ctx = dataclasses.replace(
        ctx, config=dataclasses.replace(ctx.config, fetch=FetchConfig(max_body_bytes=1000))
    )
    serve(mock, POSTS_URL, body(P1))
    with pytest.raises(FetchError, match="max_body_bytes"):
        FacebookPageConnector(ctx).fetch(PAGE, FetchState())


def test_group_feed_is_read_on_the_same_path(mock: Any) -> None:
    serve(mock, GROUP_URL, body("sns-python-facebook/groups/feed_p1.json"))
    mock.add(responses.GET, GROUP_URL, json=body("sns-python-facebook/groups/feed_p2.json"))
    result = FacebookGroupConnector(context()).fetch(GROUP, FetchState())

    assert len(result.posts) == 11
    assert all(c.request.url.startswith(f"{GROUP_URL}?") for c in mock.calls)
    assert {p.author for p in result.posts} == {"DevC Hong Kong"}
    assert result.problem is None


@pytest.mark.parametrize(
    ("status", "payload"),
    [  # hand-made: Meta's refusal of group access, as permission errors or a bare 403
        (
            400,
            {
                "error": {
                    "message": "(#10) Requires groups_access_member_info permission",
                    "type": "OAuthException",
                    "code": 10,
                }
            },
        ),
        (
            403,
            {
                "error": {
                    "message": "(#200) Permissions error",
                    "type": "OAuthException",
                    "code": 200,
                }
            },
        ),
        (403, "<html>Forbidden</html>"),
    ],
    ids=["code-10", "code-200", "bare-403"],
)
def test_group_refusal_points_to_email_inbox(mock: Any, status: int, payload: Any) -> None:
    if isinstance(payload, str):
        mock.add(responses.GET, GROUP_URL, body=payload, status=status, content_type="text/html")
    else:
        serve(mock, GROUP_URL, payload, status)
    connector = FacebookGroupConnector(context())
    with pytest.raises(AuthError) as caught:
        connector.fetch(GROUP, FetchState())
    assert caught.value.message.startswith(
        "Facebook removed third-party access to group feeds on 2024-04-22"
    )
    assert "email_inbox" in caught.value.message
    assert connector.check(GROUP) == [caught.value.message]
    assert query(mock.calls[-1]) == {"fields": ["id"], "limit": ["1"], "access_token": [TOKEN]}


def test_check_makes_one_cheap_call(mock: Any) -> None:
    serve(mock, f"{GRAPH}/{PAGE_ID}", body("sns-python-facebook/pages/single_fields_page.json"))
    assert page_connector().check(PAGE) == []
    assert len(mock.calls) == 1
    assert query(mock.calls[0])["fields"] == ["id,name"]


def test_check_reports_an_expired_token(mock: Any) -> None:
    serve(mock, f"{GRAPH}/{PAGE_ID}", body("errors/oauth_190_463_session_expired.json"), 400)
    (problem,) = page_connector().check(PAGE)
    assert problem.startswith("Facebook token expired or invalid (190/463)")


def test_the_token_never_appears_in_messages_posts_or_logs(
    mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {
        "error": {
            "message": f"Invalid OAuth access token: {TOKEN}",
            "type": "OAuthException",
            "code": 1,
        }
    }  # hand-made: an error that echoes the token back
    serve(mock, POSTS_URL, body(P1))
    serve(mock, POSTS_URL, echo, 400)
    connector = page_connector()
    result = connector.fetch(PAGE, FetchState())
    texts = [result.problem or "", result.cursor or ""]
    texts += [str(getattr(p, f.name)) for p in result.posts for f in dataclasses.fields(p)]
    mock.replace(
        responses.GET,
        POSTS_URL,
        body=requests.ConnectionError(f"cannot reach {POSTS_URL}?access_token={TOKEN}"),
    )  # hand-made network failure
    for attempt in (lambda: connector.fetch(PAGE, FetchState()), lambda: connector.check(PAGE)):
        try:
            texts.append(repr(attempt()))
        except SourceError as exc:
            texts += [exc.message, "".join(traceback.format_exception(exc))]
    texts += [record.getMessage() for record in caplog.records]

    assert result.problem is not None and "<redacted>" in result.problem
    assert not [t for t in texts if TOKEN in t or "SECRET" in t]

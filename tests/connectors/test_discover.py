"""Feed discovery: the address an admin pastes becomes the source it means.

Pages in tests/data/discovery, served by `responses`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from aggregator.config.types import FetchConfig
from aggregator.domain.errors import FetchError, ParseError
from aggregator.domain.source import FetchState, SourceConfig
from connectors.http.guard import make_session
from connectors.rss.connector import RssConnector
from connectors.rss.discover import WELL_KNOWN_PATHS, Proposal, discover_feeds

PAGES = Path(__file__).parent.parent / "data" / "discovery"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml"
BLOG = "https://room12notes.example.org/"
GHOST = "https://readingcorner.example.com/"


def discover(url: str, **fetch: object) -> list[Proposal]:
    return discover_feeds(url, make_session("PLN-Digest/test"), FetchConfig(**fetch), lambda: NOW)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def urls(proposals: list[Proposal]) -> list[str]:
    return [p.option("url") for p in proposals]


@responses.activate
def test_a_blog_home_page_proposes_its_feed_before_its_comments_feed() -> None:
    responses.get(BLOG, body=page("wordpress_home.html"), content_type=HTML)

    found = discover(BLOG)

    assert urls(found) == [f"{BLOG}feed/", f"{BLOG}comments/feed/"]
    assert found[0] == Proposal(
        "rss", (("url", f"{BLOG}feed/"),), "Room 12 Notes » Feed", "named by the page"
    )
    assert len(responses.calls) == 1  # the page named its feeds: no guessing


@responses.activate
def test_relative_feed_links_are_resolved_against_the_base_and_scripts_are_ignored() -> None:
    url = "https://mathcoach.example.net/blog/"
    responses.get(url, body=page("hugo_relative.html"), content_type=HTML)

    found = discover(url)

    assert urls(found) == [f"{url}index.xml", f"{url}feed.json"]
    assert found[1].name == "Math Coach Notes (JSON)"


@responses.activate
def test_a_page_naming_no_feed_is_tried_at_the_usual_paths_until_one_answers() -> None:
    responses.get(GHOST, body=page("ghost_no_link.html"), content_type=HTML)
    responses.get(f"{GHOST}feed", status=404)
    responses.get(f"{GHOST}rss", body=page("ghost_rss.xml"), content_type=RSS)

    found = discover(GHOST)

    assert found == [
        Proposal("rss", (("url", f"{GHOST}rss"),), "The Reading Corner", "answers at /rss")
    ]
    assert [c.request.url for c in responses.calls] == [GHOST, f"{GHOST}feed", f"{GHOST}rss"]


@responses.activate
def test_a_page_with_no_feed_anywhere_proposes_nothing() -> None:
    responses.get(GHOST, body=page("ghost_no_link.html"), content_type=HTML)
    for path in WELL_KNOWN_PATHS:
        responses.get(f"{GHOST}{path[1:]}", body=page("ghost_no_link.html"), content_type=HTML)

    assert discover(GHOST) == []


@responses.activate
def test_a_feed_address_is_proposed_as_it_is_with_its_title() -> None:
    url = f"{GHOST}rss/"
    responses.get(url, body=page("ghost_rss.xml"), content_type=RSS)

    assert discover(url) == [
        Proposal("rss", (("url", url),), "The Reading Corner", "the address is a feed")
    ]


def test_a_youtube_channel_address_holds_its_feed_without_a_request() -> None:
    with responses.RequestsMock():  # any request would fail the test
        found = discover("https://www.youtube.com/channel/UCONtPx56PSebXJOxbFv-2jQ/videos")
        playlist = discover(
            "https://www.youtube.com/playlist?list=PL8dPuuaLjXtPHzzYuWy6fYEaX9mQQ8oGr"
        )

    assert urls(found) == [
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCONtPx56PSebXJOxbFv-2jQ"
    ]
    assert urls(playlist) == [
        "https://www.youtube.com/feeds/videos.xml?playlist_id=PL8dPuuaLjXtPHzzYuWy6fYEaX9mQQ8oGr"
    ]


@responses.activate
@pytest.mark.parametrize("name", ["youtube_handle.html", "youtube_consent_stripped.html"])
def test_a_youtube_handle_page_gives_its_channel_feed(name: str) -> None:
    url = "https://www.youtube.com/@crashcoursekids"
    responses.get(url, body=page(name), content_type=HTML)

    found = discover(url)

    assert len(found) == 1 and found[0].kind == "rss"
    assert (
        found[0].option("url").startswith("https://www.youtube.com/feeds/videos.xml?channel_id=UC")
    )
    assert found[0].name.endswith(" - YouTube")


@responses.activate
def test_a_mastodon_hashtag_becomes_a_mastodon_tag_source_and_a_profile_its_rss() -> None:
    responses.get(
        "https://mastodon.education/api/v1/instance",
        body=page("mastodon_instance.json"),
        content_type="application/json",
    )

    tag = discover("https://mastodon.education/tags/EdChat")
    profile = discover("https://mastodon.education/@mrs_k/")

    assert tag == [
        Proposal(
            "mastodon_tag",
            (("instance", "https://mastodon.education"), ("tag", "EdChat")),
            "#EdChat",
            "Mastodon hashtag",
        )
    ]
    assert urls(profile) == ["https://mastodon.education/@mrs_k.rss"]


@responses.activate
def test_a_tags_page_of_a_site_that_is_not_mastodon_is_read_as_a_page() -> None:
    url = "https://mathcoach.example.net/tags/fractions/"
    responses.get("https://mathcoach.example.net/api/v1/instance", status=404)
    responses.get(url, body=page("hugo_relative.html"), content_type=HTML)

    found = discover(url)

    assert found[0].kind == "rss"
    assert found[0].option("url") == "https://mathcoach.example.net/blog/index.xml"


def test_bluesky_hashtags_and_profiles_become_searches_without_a_request() -> None:
    with responses.RequestsMock():
        tag = discover("https://bsky.app/hashtag/edusky")
        profile = discover("https://bsky.app/profile/mrs-k.bsky.social")

    assert [(p.kind, p.options) for p in tag] == [("bluesky_search", (("query", "#edusky"),))]
    assert profile[0].options == (("query", "from:mrs-k.bsky.social"),)


def test_a_private_address_is_refused_like_any_fetch() -> None:
    with pytest.raises(FetchError, match="private"):
        discover("http://127.0.0.1:9/")


def test_an_address_that_is_no_web_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an http"):
        discover("javascript:alert(1)")


# --- an rss source given a page address ------------------------------------------


def connector() -> RssConnector:
    return RssConnector(make_session("PLN-Digest/test"), FetchConfig(), lambda: NOW)


def source(url: str) -> SourceConfig:
    return SourceConfig(key="blog", kind="rss", options=(("url", url),))


@responses.activate
def test_an_rss_source_given_a_blog_home_page_is_fetched_from_the_feed_it_names() -> None:
    responses.get(BLOG, body=page("wordpress_home.html"), content_type=HTML)
    responses.get(f"{BLOG}feed/", body=page("ghost_rss.xml"), content_type=RSS)

    result = connector().fetch(source(BLOG), FetchState())

    assert result.posts and result.moved_to == f"{BLOG}feed/"  # remembered for the next fetch
    assert connector().check(source(BLOG)) == []


@responses.activate
def test_a_page_naming_several_feeds_says_which_and_fetches_none() -> None:
    url = "https://mathcoach.example.net/blog/"
    responses.get(url, body=page("hugo_relative.html"), content_type=HTML)

    with pytest.raises(ParseError) as info:
        connector().fetch(source(url), FetchState())

    assert info.value.message == (
        f"not a feed (an HTML page); it names 2 feeds: {url}index.xml, {url}feed.json: "
        "use one of them as the source url"
    )
    assert len(responses.calls) == 1


@responses.activate
def test_check_online_says_where_the_feed_of_a_page_naming_none_is() -> None:
    responses.get(GHOST, body=page("ghost_no_link.html"), content_type=HTML)
    responses.get(f"{GHOST}feed", body=page("ghost_rss.xml"), content_type=RSS)

    assert connector().check(source(GHOST)) == [
        f"not a feed (an HTML page); its feed is at {GHOST}feed: use that as the source url"
    ]
    with pytest.raises(ParseError, match=r"^blog: not a feed \(HTML page\)$"):
        connector().fetch(source(GHOST), FetchState())  # a fetch does not go guessing

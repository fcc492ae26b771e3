"""The rss connector: feeds in tests/data/feeds and tests/data/hostile, over `responses`."""

from __future__ import annotations

import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from aggregator.config.types import FetchConfig
from aggregator.domain.errors import FetchError, ParseError, RateLimited, SourceGone
from aggregator.domain.post import Post
from aggregator.domain.source import FetchState, SourceConfig
from connectors.http.guard import make_session
from connectors.rss import connector as rss_module
from connectors.rss.connector import RssConnector
from connectors.rss.parse import parse_feed, read_feed

DATA = Path(__file__).parent.parent / "data"
FEEDS = DATA / "feeds"
HOSTILE = DATA / "hostile"
NOW = datetime(2026, 9, 1, tzinfo=UTC)
EXPECTED: dict[str, dict[str, Any]] = json.loads((FEEDS / "expected.json").read_text())
URL = "https://blog.example.org/feed.xml"
SOURCE = SourceConfig(key="blog", kind="rss", options=(("url", URL),))


def parse(path: Path, url: str = URL, content_type: str = "application/xml") -> tuple[Post, ...]:
    return parse_feed("blog", path.read_bytes(), content_type, url, NOW)


def assert_clean(post: Post) -> None:
    """What every post must look like, whatever the document held."""
    assert post.published_at.tzinfo is UTC and post.published_at <= NOW
    html = post.html.lower()
    assert "<script" not in html and "<iframe" not in html and "<form" not in html
    assert re.search(r"<[^>]*\son[a-z]+=", html) is None
    for url in re.findall(r'(?:href|src)="([^"]*)"', html):
        assert url.startswith(("http://", "https://", "mailto:")), url
    for url in (post.url, post.media_url, post.image_url, *post.links):
        assert not url or url.startswith(("http://", "https://")), url
    assert post.title is None or "&lt;" not in post.title


def connector(**fetch: Any) -> RssConnector:
    return RssConnector(make_session("PLN-Digest/test"), FetchConfig(**fetch), lambda: NOW)


# --- documents -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_feed_parses_to_its_expected_posts(name: str) -> None:
    posts = parse(FEEDS / name, url=f"https://feeds.example.com/{name}")
    expected = EXPECTED[name]
    assert len(posts) == expected["entries"]
    if posts:
        first = posts[0]
        got = {
            "external_id": first.external_id,
            "title": first.title,
            "url": first.url,
            "published_at": first.published_at.isoformat(),
        }
        assert got == expected["first"]
    assert len({p.external_id for p in posts}) == len(posts)
    for post in posts:
        assert_clean(post)


@pytest.mark.parametrize(
    ("name", "content_type", "word"),
    [
        ("real-world/miniflux_encoding_ISO-8859-1.xml", "application/rss+xml", "wünschen"),
        ("real-world/miniflux_encoding_WINDOWS-1251.xml", "application/rss+xml", "Цитата"),
        (
            "real-world/miniflux_no_encoding_ISO-8859-1.xml",
            "text/xml; charset=ISO-8859-1",
            "Perturbateurs endocriniens",
        ),
        ("real-world/miniflux_urdu_UTF8.xml", "application/rss+xml; charset=utf-8", "امریکی"),
    ],
)
def test_encodings_decode(name: str, content_type: str, word: str) -> None:
    posts = parse(FEEDS / name, content_type=content_type)
    assert any(word in (p.title or "") + p.text for p in posts)


def test_podcast_enclosure_becomes_media() -> None:
    (post,) = parse(FEEDS / "podcasts/multi_enclosures.rss")
    assert (post.media_url, post.media_type) == ("http://cdn.example.org/foo.mp3", "audio/mpeg")
    (post,) = parse(FEEDS / "podcasts/image_and_audio.rss")
    assert post.media_url == "http://example.net/audio.mp3"
    assert post.image_url == "http://example.org/coverart.jpg"


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("podcasts/media_episode_thumbnail_atom_group.rss", "http://example.com/episode/1.jpg"),
        (
            "real-world/miniflux_urdu_UTF8.xml",  # 1024 x 576
            "http://c.files.bbci.co.uk/A787/production/_99478824_gettyimages-856735580.jpg",
        ),
        # Sizes the feed gives that make an icon, not a picture: 72 x 72, an
        # avatar of 30 x 30 (GitHub's release feeds).
        ("media-rss/media_thumbnail.xml", None),
        ("real-world/miniflux_small_atom.xml", None),
    ],
)
def test_media_rss_thumbnail_becomes_image(name: str, image: str | None) -> None:
    assert parse(FEEDS / name)[0].image_url == image


def test_items_without_guid_link_or_date_keep_one_identity() -> None:
    feed = FEEDS / "podcasts/multi_enclosures.rss"
    first = parse(feed)[0]
    later = parse_feed("blog", feed.read_bytes(), "application/xml", URL, NOW + timedelta(days=1))[
        0
    ]
    assert first.external_id.startswith("sha256:")
    assert (first.external_id, first.content_hash) == (later.external_id, later.content_hash)


def test_undated_items_are_dated_when_first_seen_and_future_dates_clamped() -> None:
    doc = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><guid>a</guid><title>undated</title></item>"
        b"<item><guid>b</guid><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    undated, future = parse_feed("blog", doc, "application/rss+xml", URL, NOW)
    assert undated.published_at == NOW and future.published_at == NOW


def test_content_hash_changes_only_with_the_item() -> None:
    def doc(title: bytes) -> bytes:
        return (
            b'<rss version="2.0"><channel><item><guid>a</guid><title>'
            + title
            + b"</title></item></channel></rss>"
        )

    one, same, other = (
        parse_feed("blog", doc(t), "application/rss+xml", URL, NOW)[0]
        for t in (b"One", b"One", b"Two")
    )
    assert one.content_hash == same.content_hash != other.content_hash


@pytest.mark.parametrize("name", ["reader/relative.rss", "reader/relative.atom"])
def test_relative_links_are_resolved_against_the_feed_url(name: str) -> None:
    (post,) = parse(FEEDS / name, url="https://example.com/dir/feed.xml")
    assert post.url.startswith("https://example.com/dir/")
    assert post.media_url == "https://example.com/dir/enclosure?q=a#fragment"
    assert "evil" not in post.html


def test_relative_links_inside_content_become_absolute() -> None:
    doc = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><link href="/p/1"/>'
        b'<content type="html">&lt;a href="../about"&gt;about&lt;/a&gt; &lt;img src="i.png"&gt;</content>'
        b"</entry></feed>"
    )
    (post,) = parse_feed("blog", doc, "application/atom+xml", "https://ex.org/blog/feed.xml", NOW)
    assert post.url == "https://ex.org/p/1"
    assert (
        'href="https://ex.org/about"' in post.html
        and 'src="https://ex.org/blog/i.png"' in post.html
    )
    assert post.links == ("https://ex.org/about",)


def test_title_author_and_tags_are_plain_text() -> None:
    doc = (
        b'<rss version="2.0"><channel><language>en-US</language><item><guid>g</guid>'
        b"<title>Fractions &lt;b&gt;fast&lt;/b&gt; &amp;amp; fun</title><author>Ana &lt;i&gt;R&lt;/i&gt;</author>"
        b"<category>#MathChat</category><category>Formative Assessment</category>"
        b"</item></channel></rss>"
    )
    (post,) = parse_feed("blog", doc, "application/rss+xml", URL, NOW)
    assert (post.title, post.author) == ("Fractions fast & fun", "Ana R")
    assert post.hashtags == ("mathchat", "formative assessment")
    assert post.language == "en-US"


# --- JSON Feed -----------------------------------------------------------------


def test_json_feed_items() -> None:
    first, second = parse(FEEDS / "jsonfeed/reader_full.json", content_type="application/feed+json")
    assert (
        first.html
        == 'Content with <a href="http://example.com/" rel="noopener noreferrer">link</a>'
    )
    assert (first.media_url, first.media_type) == (
        "http://example.com/downloads/file.m4a",
        "audio/x-m4a",
    )
    assert first.published_at == datetime(2020, 1, 2, 21, tzinfo=UTC)
    assert first.language == "de" and second.author == "Jane"


def test_json_feed_html_is_sanitised_and_text_is_escaped() -> None:
    first, second = parse(FEEDS / "jsonfeed/feedparser-main_example.json")
    assert first.hashtags == ("test", "json")
    assert "<script" not in second.html and second.text == "Hello, world!"
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "content_text": "a <b> c"}]}'
    (post,) = parse_feed("blog", doc, "application/json", URL, NOW)
    assert post.html == "a &lt;b&gt; c" and post.text == "a <b> c"


def test_invalid_json_feed_values_do_not_crash() -> None:
    posts = parse(FEEDS / "jsonfeed/reader_invalid.json")
    # The other six items have no title, text, link or media: nothing to show.
    assert {p.external_id for p in posts} == {"2", "3.1415"}
    for post in posts:
        assert_clean(post)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"items": []', "not a feed (invalid JSON"),
        (
            b'{"title": "no version", "items": []}',
            "not a feed (JSON without a jsonfeed.org version)",
        ),
    ],
)
def test_json_that_is_not_a_json_feed(body: bytes, text: str) -> None:
    with pytest.raises(ParseError, match=re.escape(text)):
        parse_feed("blog", body, "application/json", URL, NOW)


# --- hostile documents -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.iterdir() if p.suffix != ".md"))
def test_hostile_documents_end_as_an_error_or_clean_posts(name: str) -> None:
    try:
        posts = parse(HOSTILE / name)
    except ParseError as exc:
        assert exc.source_key == "blog" and "\n" not in exc.message
        return
    for post in posts:
        assert_clean(post)
        assert len(post.title or "") < 10_000 and len(post.text) < 100_000
        assert "root:" not in post.text  # no /etc/passwd


def test_quadratic_blowup_is_not_expanded() -> None:
    posts = parse(HOSTILE / "quadratic_blowup.xml")
    assert all(len(p.title or "") + len(p.text) < 100_000 for p in posts)


def test_truncated_document_keeps_complete_items_only() -> None:
    posts = parse(HOSTILE / "truncated.xml")
    assert [p.title for p in posts] == ["first"]


def test_javascript_and_markup() -> None:
    (post,) = parse(HOSTILE / "javascript_and_markup.xml")
    assert post.url == "" and post.media_url is None and post.image_url is None
    assert "javascript" not in post.html.lower() and "data:" not in post.html
    assert "<form" not in post.html and "<input" not in post.html and "<script" not in post.html
    # A plain-text title is kept as written: templates escape it.
    assert post.title == "x <script>alert(1)</script>"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty_200.xml", "empty document"),
        (
            "html_not_feed.html",
            "not a feed (an HTML page); its feed is at https://blog.example.org/feed/: use that as the source url",
        ),
    ],
)
def test_documents_that_are_not_feeds(name: str, text: str) -> None:
    with pytest.raises(ParseError) as excinfo:
        parse(HOSTILE / name)
    assert excinfo.value.message == text


def test_an_html_page_without_a_feed_link() -> None:
    with pytest.raises(ParseError, match=r"not a feed \(HTML page\)$"):
        parse_feed(
            "blog", b"<!DOCTYPE html><html><body><p>Log in</p></body></html>", "text/html", URL, NOW
        )


def test_a_document_that_is_no_feed_at_all() -> None:
    with pytest.raises(ParseError, match="no RSS, Atom or JSON Feed"):
        parse_feed("blog", b"<note><to>Tove</to></note>", "application/xml", URL, NOW)


# --- the connector over HTTP ----------------------------------------------------


@responses.activate
def test_fetch_returns_posts_and_validators() -> None:
    body = (FEEDS / "real-world/miniflux_small_atom.xml").read_bytes()
    responses.get(
        URL,
        body=body,
        headers={
            "ETag": '"abc"',
            "Last-Modified": "Mon, 31 Aug 2026 10:00:00 GMT",
            "Content-Type": "application/atom+xml",
        },
    )
    result = connector().fetch(SOURCE, FetchState())
    assert len(result.posts) == 20 and not result.not_modified and result.moved_to is None
    assert (result.etag, result.last_modified) == ('"abc"', "Mon, 31 Aug 2026 10:00:00 GMT")
    assert "application/rss+xml" in responses.calls[0].request.headers["Accept"]


@responses.activate
def test_not_modified_skips_parsing() -> None:
    responses.get(URL, status=304, body=b"<html>not a feed, would fail to parse</html>")
    state = FetchState(etag='"abc"', last_modified="Mon, 31 Aug 2026 10:00:00 GMT")
    result = connector().fetch(SOURCE, state)
    assert result.not_modified and result.posts == ()
    sent = responses.calls[0].request.headers
    assert sent["If-None-Match"] == '"abc"' and sent["If-Modified-Since"] == state.last_modified


@responses.activate
def test_a_moved_feed_is_fetched_at_its_new_url_and_reported() -> None:
    new = "https://new.example.org/feed"
    responses.get(URL, status=301, headers={"Location": new})
    responses.get(new, body=(FEEDS / "reader/full.rss").read_bytes())
    assert connector().fetch(SOURCE, FetchState()).moved_to == new
    responses.calls.reset()
    result = connector().fetch(SOURCE, FetchState(url=new))
    assert [c.request.url for c in responses.calls] == [new] and result.moved_to is None


@responses.activate
def test_a_temporary_redirect_is_not_a_move() -> None:
    responses.get(URL, status=302, headers={"Location": "https://cdn.example.org/f"})
    responses.get("https://cdn.example.org/f", body=(FEEDS / "reader/full.rss").read_bytes())
    assert connector().fetch(SOURCE, FetchState()).moved_to is None


@responses.activate
def test_status_errors() -> None:
    responses.get(URL, status=410)
    with pytest.raises(SourceGone):
        connector().fetch(SOURCE, FetchState())
    responses.replace(responses.GET, URL, status=429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimited) as excinfo:
        connector().fetch(SOURCE, FetchState())
    assert excinfo.value.retry_after == NOW + timedelta(minutes=10)


@responses.activate
def test_size_cap_applies_to_feeds() -> None:
    responses.get(URL, body=b"<rss>" + b" " * 2000 + b"</rss>")
    with pytest.raises(FetchError, match="larger than fetch.max_body_bytes"):
        connector(max_body_bytes=1000).fetch(SOURCE, FetchState())


def test_a_private_feed_url_is_refused() -> None:
    source = SourceConfig(key="blog", kind="rss", options=(("url", "http://127.0.0.1:9/feed"),))
    with pytest.raises(FetchError, match="private or local address"):
        connector().fetch(source, FetchState())


@responses.activate
def test_check_reports_problems() -> None:
    responses.get(URL, body=(FEEDS / "reader/full.rss").read_bytes())
    assert connector().check(SOURCE) == []
    responses.replace(responses.GET, URL, status=404)
    assert connector().check(SOURCE) == ["not found (404): check the URL"]


@responses.activate
def test_an_unexpected_parser_crash_is_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any) -> tuple[Post, ...]:
        raise KeyError("bug")

    monkeypatch.setattr(rss_module, "read_feed", crash)
    responses.get(URL, body=b"<rss/>")
    with pytest.raises(ParseError, match="unexpected error while parsing: KeyError"):
        connector().fetch(SOURCE, FetchState())


@responses.activate
def test_parsing_in_a_process_pool() -> None:
    responses.get(URL, body=(FEEDS / "reader/full.atom").read_bytes())
    responses.get("https://blog.example.org/page", body=b"<!DOCTYPE html><html><p>hi</p></html>")
    page = SourceConfig(key="page", kind="rss", options=(("url", "https://blog.example.org/page"),))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = RssConnector(make_session("t"), FetchConfig(), lambda: NOW, parse_pool=pool)
        assert (
            pooled.fetch(SOURCE, FetchState()).posts
            == connector().fetch(SOURCE, FetchState()).posts
        )
        with pytest.raises(ParseError, match=r"not a feed \(HTML page\)"):
            pooled.fetch(page, FetchState())


# --- what a feed says, as written -------------------------------------------------


def _rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
        f"<link>https://blog.example.org/</link>{channel}{items}</channel></rss>"
    ).encode()


def _atom_title(kind: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>B</title><entry><id>urn:1</id><title type="{kind}">{title}</title>'
        '<link href="https://blog.example.org/1"/><updated>2026-08-30T10:00:00Z</updated>'
        "</entry></feed>"
    ).encode()


@pytest.mark.parametrize(
    ("document", "title"),
    [
        pytest.param(
            _atom_title("text", "History of the &lt;blink&gt; tag"),
            "History of the <blink> tag",
            id="atom-text",
        ),
        pytest.param(
            _rss("<item><title>Teaching the &lt;canvas&gt; element</title><guid>1</guid></item>"),
            "Teaching the <canvas> element",
            id="rss-element-name",
        ),
        pytest.param(
            _rss("<item><title>a&lt;b, c&gt;d</title><guid>1</guid></item>"),
            "a<b, c>d",
            id="rss-comparison",
        ),
        pytest.param(
            _atom_title("html", "&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co"), "Bold & co", id="atom-html"
        ),
        pytest.param(
            _atom_title(
                "xhtml", '<div xmlns="http://www.w3.org/1999/xhtml"><b>Bold</b> news</div>'
            ),
            "Bold news",
            id="atom-xhtml",
        ),
    ],
)
def test_a_title_comes_out_as_written_by_its_declared_type(document: bytes, title: str) -> None:
    (post,) = parse_feed("blog", document, "application/xml", URL, NOW)
    assert post.title == title


def test_a_complete_feed_with_an_undefined_entity_keeps_every_item() -> None:
    document = _rss(
        "<item><title>One</title><description>First note</description></item>"
        "<item><title>Two</title><description>Second note</description></item>",
        channel="<description>Teaching&nbsp;science</description>",
    )

    parsed = read_feed("blog", document, "application/rss+xml", URL, NOW)

    assert [p.title for p in parsed.posts] == ["One", "Two"] and parsed.problem is None


def test_a_cut_off_feed_keeps_its_complete_items_and_says_what_it_left_out() -> None:
    parsed = read_feed(
        "blog", (HOSTILE / "truncated.xml").read_bytes(), "application/xml", URL, NOW
    )

    assert [p.title for p in parsed.posts] == ["first"]
    assert parsed.problem == (
        "the feed is cut off or is broken XML (no element found); "
        "kept 1 complete item(s) and left out a partial one"
    )


@pytest.mark.parametrize(
    ("channel", "item_author", "byline"),
    [
        pytest.param("<managingEditor>office@school.org</managingEditor>", "", "", id="editor"),
        pytest.param("<author>Ms Rivera (me@example.com)</author>", "", "Ms Rivera", id="feed"),
        pytest.param("", "<author>ana@school.org (Ana Diaz)</author>", "Ana Diaz", id="rss"),
        pytest.param("", "<author>bob@school.org</author>", "", id="bare-address"),
        pytest.param(
            "<author>office@school.org</author>", "<author>Luis</author>", "Luis", id="own"
        ),
    ],
)
def test_a_byline_never_shows_an_email_address(channel: str, item_author: str, byline: str) -> None:
    document = _rss(f"<item><title>Hi</title><guid>1</guid>{item_author}</item>", channel=channel)

    (post,) = parse_feed("blog", document, "application/rss+xml", URL, NOW)

    assert post.author == byline


def test_a_json_feed_item_keeps_its_own_authors() -> None:
    document = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "PLN",
            "authors": [{"name": "The PLN team"}],
            "items": [
                {"id": "1", "title": "Own", "authors": [{"name": "Luis"}, {"name": "Ana"}]},
                {"id": "2", "title": "Feed's"},
            ],
        }
    ).encode()

    own, feeds = parse_feed("blog", document, "application/feed+json", URL, NOW)

    assert (own.author, feeds.author) == ("Luis, Ana", "The PLN team")


def test_an_item_with_no_title_text_link_or_media_is_not_a_post() -> None:
    document = _rss(
        "<item><guid isPermaLink='false'>empty</guid></item>"
        "<item><guid isPermaLink='false'>episode</guid><enclosure url='https://cdn.example/e.mp3' type='audio/mpeg'/>"
        "</item><item><guid isPermaLink='false'>note</guid><description>Just words</description></item>"
    )

    posts = parse_feed("blog", document, "application/rss+xml", URL, NOW)

    assert [p.external_id for p in posts] == ["episode", "note"]


@responses.activate
def test_undated_items_of_a_first_fetch_are_back_catalogue_later_ones_news() -> None:
    responses.get(URL, body=_rss("<item><title>Old</title><guid>1</guid></item>"))
    responses.get(URL, body=_rss("<item><title>New</title><guid>2</guid></item>"))

    (old,) = connector().fetch(SOURCE, FetchState(is_first_fetch=True)).posts
    (new,) = connector().fetch(SOURCE, FetchState()).posts

    assert old.published_at == NOW - timedelta(days=8)  # before any digest window
    assert new.published_at == NOW


@responses.activate
def test_relative_links_follow_the_content_location() -> None:
    document = _rss(
        "<item><title>T</title><link>posts/1</link><guid>1</guid>"
        "<description>&lt;a href='../img/a.png'&gt;pic&lt;/a&gt;</description></item>"
    )
    responses.get(URL, body=document, headers={"Content-Location": "/en/feed/index.xml"})

    (post,) = connector().fetch(SOURCE, FetchState()).posts

    assert post.url == "https://blog.example.org/en/feed/posts/1"
    assert post.links == ("https://blog.example.org/en/img/a.png",)


@pytest.mark.parametrize(
    "document",
    [
        b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>x</title>'
        b"</width></entry></feed>",
        b'<rss version="2.0"><channel><item><title>t</title></width></item></channel></rss>',
    ],
    ids=["atom", "rss"],
)
def test_markup_that_trips_feedparser_itself_is_a_parse_error(document: bytes) -> None:
    # Found by fuzzing: feedparser's lenient parser raises TypeError on an end
    # tag it never saw open.
    with pytest.raises(ParseError, match=r"broken markup: TypeError"):
        parse_feed("blog", document, "", URL, NOW)

"""URL canonicalisation: every spelling of one page becomes one key."""

from __future__ import annotations

import pytest

from aggregator.domain.canonical import canonical_url, clean_url

ARTICLE = "https://cultofpedagogy.com/retrieval-practice"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://www.cultofpedagogy.com/retrieval-practice/", id="www-and-slash"),
        pytest.param("http://cultofpedagogy.com/retrieval-practice", id="http"),
        pytest.param("https://CultOfPedagogy.COM/retrieval-practice", id="host-case"),
        pytest.param("https://cultofpedagogy.com:443/retrieval-practice", id="default-port"),
        pytest.param("http://cultofpedagogy.com:80/retrieval-practice/", id="http-default-port"),
        pytest.param("https://cultofpedagogy.com/retrieval-practice#comments", id="fragment"),
        pytest.param(
            "https://cultofpedagogy.com/retrieval-practice?utm_source=twitter&utm_medium=social"
            "&utm_campaign=x",
            id="utm",
        ),
        pytest.param("https://cultofpedagogy.com/retrieval-practice?fbclid=IwAR0abc", id="fbclid"),
        pytest.param("https://cultofpedagogy.com/retrieval-practice?gclid=Cj0K", id="gclid"),
        pytest.param(
            "https://cultofpedagogy.com/retrieval-practice?mc_cid=1a2b&mc_eid=3c4d", id="mailchimp"
        ),
        pytest.param("https://m.cultofpedagogy.com/retrieval-practice", id="mobile-m"),
        pytest.param("https://mobile.cultofpedagogy.com/retrieval-practice", id="mobile"),
        pytest.param("https://amp.cultofpedagogy.com/retrieval-practice", id="amp-host"),
        pytest.param("https://cultofpedagogy.com/retrieval-practice/amp/", id="amp-path"),
        pytest.param("  https://cultofpedagogy.com/retrieval-practice  ", id="whitespace"),
    ],
)
def test_spellings_of_one_article_share_a_key(url):
    assert canonical_url(url) == ARTICLE


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://x.com/edutopia/status/123?s=20&t=abc",
            "https://twitter.com/edutopia/status/123",
            id="x-is-twitter",
        ),
        pytest.param(
            "https://mobile.twitter.com/edutopia/status/123",
            "https://twitter.com/edutopia/status/123",
            id="mobile-twitter",
        ),
        pytest.param(
            "https://youtu.be/dQw4w9WgXcQ?si=tracking",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            id="youtu-be",
        ),
        pytest.param(
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            id="youtube-feature",
        ),
        pytest.param(
            "https://m.youtube.com/shorts/dQw4w9WgXcQ",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            id="youtube-shorts",
        ),
        pytest.param(
            "https://youtu.be/dQw4w9WgXcQ?t=42",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            id="youtu-be-time-is-same-video",
        ),
        pytest.param(
            "https://example.org/search?b=2&a=1&utm_term=x",
            "https://example.org/search?a=1&b=2",
            id="params-sorted-kept",
        ),
        pytest.param("https://example.org:8443/a/", "https://example.org:8443/a", id="other-port"),
    ],
)
def test_host_aliases_and_meaningful_parameters(url, expected):
    assert canonical_url(url) == expected


def test_different_pages_keep_different_keys():
    assert canonical_url("https://example.org/a?id=1") != canonical_url(
        "https://example.org/a?id=2"
    )
    assert canonical_url("https://youtu.be/aaa") != canonical_url("https://youtu.be/bbb")
    assert (
        canonical_url("https://amp.dev/about") == "https://amp.dev/about"
    )  # a site, not an edition


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mailto:ana@school.org",
        "javascript:alert(1)",
        "/relative/path",
        "https://",
        "http://[::1",
    ],
)
def test_non_web_urls_have_no_key(url):
    assert canonical_url(url) == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param(
            "https://www.Blog.example/a/?utm_source=rss&id=5&fbclid=IwAR0#top",
            "https://www.Blog.example/a/?id=5#top",
            id="tracking-gone-rest-as-written",
        ),
        pytest.param(
            "https://open.spotify.com/episode/42?si=a1b2",
            "https://open.spotify.com/episode/42",
            id="si",
        ),
        pytest.param("https://x.com/ana/status/1?s=20&t=abc", "https://x.com/ana/status/1", id="x"),
        pytest.param(
            "https://www.youtube.com/watch?v=LbS&t=30&si=q",
            "https://www.youtube.com/watch?v=LbS&t=30",
            id="youtube-time-kept",
        ),
        pytest.param("https://youtu.be/LbS?si=q&t=30", "https://youtu.be/LbS?t=30", id="youtu.be"),
        pytest.param(
            "http://blog.example/p?q=a%20b&x=1+2", "http://blog.example/p?q=a%20b&x=1+2", id="kept"
        ),
        pytest.param(" https://blog.example/p ", "https://blog.example/p", id="whitespace"),
        pytest.param("javascript:alert(1)", "", id="script"),
        pytest.param("https://[::1", "", id="malformed"),
    ],
)
def test_a_link_shown_loses_its_tracking_parameters_and_nothing_else(url, shown):
    assert clean_url(url) == shown
    # What is shown still groups with what was shared.
    if shown:
        assert canonical_url(shown) == canonical_url(url)

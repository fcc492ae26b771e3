"""Links shown to teachers: free of click tracking, the original post one tap away."""

from __future__ import annotations

import re

from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.links import EntryLinks, clean_html_links, entry_links
from digests.render import render_html, render_text

LABELS = network_labels()
SOURCES = {"blog": "Cult of Pedagogy", "social": "#edchat on Mastodon"}
TRACKING = re.compile(r"utm_|fbclid|[?&]si=|[?&]s=20|gclid", re.IGNORECASE)


def rendered(*posts):
    digest = build_digest_from_posts(list(posts), make_recipient(), SOURCES, NOW, WINDOW)
    return digest, render_html(digest, labels=LABELS), render_text(digest, labels=LABELS)


def hrefs(html):
    return re.findall(r'href="([^"]*)"', html)


def test_an_article_link_loses_its_tracking_parameters_in_html_and_text():
    post = make_post(
        "1",
        title="Retrieval practice in five minutes",
        url="https://www.cultofpedagogy.com/retrieval/?utm_source=rss&utm_medium=rss&fbclid=IwAR0",
    )
    digest, html, text = rendered(post)
    clean = "https://www.cultofpedagogy.com/retrieval/"
    assert digest.entries[0].link == clean and digest.entries[0].post_link == ""
    assert f'href="{clean}"' in html
    assert f"   {clean}\n" in text
    assert not TRACKING.search(html) and not TRACKING.search(text)
    # An article is its own original: no second link to it.
    assert "post on" not in html.lower() and "Post on" not in text


def test_a_social_post_sharing_an_article_links_the_article_and_keeps_the_post_one_tap_away():
    post = make_post(
        "9",
        source_key="social",
        network="mastodon",
        title=None,
        text="Loved this on hinge questions https://retrievalroom.example/hinge?utm_source=mastodon",
        url="https://mastodon.social/@ana/9",
        links=(
            "https://mastodon.social/tags/edchat",
            "https://mastodon.social/@bob",
            "https://retrievalroom.example/hinge?utm_source=mastodon",
        ),
    )
    digest, html, text = rendered(post)
    [entry] = digest.entries
    assert (entry.link, entry.post_link) == (
        "https://retrievalroom.example/hinge",
        "https://mastodon.social/@ana/9",
    )
    headline = re.search(r'<h3[^>]*><a [^>]*href="([^"]*)"', html)
    assert headline and headline.group(1) == "https://retrievalroom.example/hinge"
    assert re.search(r'href="https://mastodon.social/@ana/9"[^>]*>post on Mastodon</a>', html)
    assert "   Shared link:\n   https://retrievalroom.example/hinge\n" in text
    assert "   Post on Mastodon:\n   https://mastodon.social/@ana/9\n" in text
    # The URL in the post's own words is cleaned too.
    assert "hinge questions https://retrievalroom.example/hinge" in text
    assert not TRACKING.search(html) and not TRACKING.search(text)


def test_links_in_a_posts_html_lose_their_tracking_parameters():
    post = make_post(
        "1",
        title=None,
        source_key="social",
        text="Try this: sketchnotes",
        html='<p>Try this: <a href="https://example.org/s?id=4&amp;utm_campaign=x&amp;si=abc">'
        "https://example.org/s?id=4&amp;utm_campaign=x</a></p>",
    )
    _, html, _ = rendered(post)
    assert 'href="https://example.org/s?id=4"' in html
    assert ">https://example.org/s?id=4</a>" in html
    assert not TRACKING.search(html)


def test_cleaning_html_links_never_lets_markup_in():
    hostile = '<p><a href="https://e.org/?a=1&amp;utm_x=&quot;&gt;&lt;script&gt;">x</a></p>'
    cleaned = clean_html_links(hostile)
    assert "<script" not in cleaned and '"><' not in cleaned
    assert cleaned.count("<a ") == 1


def test_a_source_declared_canonical_page_is_shown_with_the_post_as_its_permalink():
    post = make_post(
        "1",
        title="Re-shared: the spacing calendar",
        url="https://feeds.example/~r/pln/1?utm_source=feed",
        canonical_url="https://plnweekly.example/issues/87",
    )
    assert entry_links(post) == EntryLinks(
        "https://plnweekly.example/issues/87", "https://feeds.example/~r/pln/1"
    )


def test_a_titled_post_links_its_own_page_whatever_it_cites():
    post = make_post(
        "1",
        title="Five studies on spacing",
        url="https://blog.example/spacing",
        links=("https://journal.example/study-1",),
    )
    assert entry_links(post) == EntryLinks("https://blog.example/spacing")


def test_also_worth_a_look_links_are_clean():
    posts = [
        make_post(
            f"{i:02d}",
            hours_ago=i / 10,
            text=words(100),
            url=f"https://blog.example/{i}?utm_source=rss",
        )
        for i in range(60)
    ]
    digest, html, text = rendered(*posts)
    assert digest.also
    for entry in digest.also:
        assert entry.link == f"https://blog.example/{int(entry.post.external_id)}"
        assert f"\n  {entry.link}\n" in text
    assert all(not TRACKING.search(href) for href in hrefs(html))
    assert not TRACKING.search(text)

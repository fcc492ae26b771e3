"""Rendering a digest to HTML and plain text: escaping, times, links, quiet days."""

from __future__ import annotations

import re
from datetime import timedelta

import jinja2
from digest_factory import NOW, WINDOW, make_post, make_recipient, words
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.filters import do_wordwrap

from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.render import _environment, format_clock, render_html, render_text, safe_href

LABELS = network_labels()

SOURCES = {"blog": "Cult of Pedagogy", "social": "#edchat on Mastodon"}


def build(posts, window=WINDOW, **recipient):
    return build_digest_from_posts(posts, make_recipient(**recipient), SOURCES, NOW, window)


def test_title_source_author_time_excerpt_and_link_are_shown():
    post = make_post(
        "1",
        hours_ago=2,  # 10:30 UTC = 4:30 AM in Chicago
        title="Retrieval practice in five minutes",
        text="Start each lesson with three questions.",
        author="Jennifer Gonzalez",
        url="https://www.cultofpedagogy.com/retrieval/",
    )
    digest = build([post])
    for output in (render_html(digest, labels=LABELS), render_text(digest, labels=LABELS)):
        assert "Retrieval practice in five minutes" in output
        assert "Cult of Pedagogy" in output
        assert "Jennifer Gonzalez" in output
        assert "4:30 AM" in output
        assert "Start each lesson with three questions." in output
        assert "https://www.cultofpedagogy.com/retrieval/" in output


def test_times_are_in_the_recipients_zone():
    post = make_post("1", hours_ago=2)  # 10:30 UTC
    chicago = build([post], timezone="America/Chicago")
    utc = build([post], timezone="UTC")
    assert chicago.entries[0].local_time.utcoffset() == timedelta(hours=-6)
    chicago_text, utc_html = render_text(chicago, labels=LABELS), render_html(utc, labels=LABELS)
    assert "4:30 AM" in chicago_text and "10:30 AM" not in chicago_text
    assert "10:30 AM" in utc_html and "4:30 AM" not in utc_html


def test_a_post_from_the_previous_local_day_shows_its_weekday():
    post = make_post("1", hours_ago=9)  # 03:30 UTC Monday = 9:30 PM Sunday in Chicago
    assert "Sun 9:30 PM" in render_text(build([post]), labels=LABELS)
    assert format_clock(NOW, NOW.date()) == "12:30 PM"


def test_subject_names_the_local_day_and_the_top_story():
    digest = build([make_post("1", title="Exit tickets that work")])
    assert digest.subject == "Your PLN digest \u2014 Mon 30 Nov: Exit tickets that work"
    assert digest.subject in render_text(digest, labels=LABELS)


def test_hostile_title_is_escaped_in_html():
    post = make_post("1", title="<script>alert(1)</script>", text="<img src=x onerror=alert(2)>")
    html = render_html(build([post]), labels=LABELS)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "<script" not in html.lower()


def test_javascript_links_are_not_rendered():
    post = make_post("1", title="Click me", url="javascript:alert(1)")
    digest = build([post])
    assert "javascript:" not in render_html(digest, labels=LABELS)
    assert "javascript:" not in render_text(digest, labels=LABELS)
    assert safe_href("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert safe_href("data:text/html,hi") == ""


def test_sanitised_post_html_is_rendered_as_markup():
    post = make_post(
        "1",
        title=None,
        text="Try this: sketchnotes",
        html='<p>Try this: <a href="https://example.org/s">sketchnotes</a></p>',
        source_key="social",
    )
    html = render_html(build([post]), labels=LABELS)
    assert re.search(
        r'<p style="[^"]*">Try this: <a href="https://example.org/s" style="[^"]*">'
        r"sketchnotes</a></p>",
        html,
    )


def test_long_post_shows_excerpt_and_read_more_link():
    post = make_post("1", text=words(500, "lesson"), url="https://example.org/long")
    html = render_html(build([post]), labels=LABELS)
    text = render_text(build([post]), labels=LABELS)
    assert "Read the rest" in html and 'href="https://example.org/long"' in html
    assert "lesson\u2026" in text
    # The entry shows 70 words (its "in one minute" line is counted apart).
    assert text.split("TOP STORIES")[1].count("lesson") == 70


def test_also_worth_a_look_lists_headlines_with_urls():
    posts = [make_post(f"{i:02d}", hours_ago=i / 10, text=words(100)) for i in range(20)]
    digest = build(posts)
    assert digest.also
    text = render_text(digest, labels=LABELS)
    html = render_html(digest, labels=LABELS)
    assert "ALSO WORTH A LOOK" in text and "Also worth a look" in html
    for entry in digest.also:
        assert f"\n  {entry.post.url}\n" in text
        assert f'href="{entry.post.url}"' in html


def test_every_url_is_on_its_own_line_in_text():
    posts = [make_post(str(i), hours_ago=i + 1) for i in range(3)]
    text = render_text(build(posts), labels=LABELS)
    lines = [line.strip() for line in text.splitlines()]
    for post in posts:
        assert post.url in lines


def test_text_lines_are_wrapped_for_plain_mail_readers():
    post = make_post("1", text=words(80, "formative"))
    text = render_text(build([post]), labels=LABELS)
    assert max(len(line) for line in text.splitlines() if "formative" in line) <= 76


def test_empty_day_says_so_kindly():
    digest = build([])
    assert digest.is_empty
    assert digest.subject.endswith("nothing new today")
    message = "Your network was quiet since yesterday"
    assert message in render_text(digest, labels=LABELS)
    assert message in render_html(digest, labels=LABELS)
    assert "Enjoy the extra five minutes." in render_text(digest, labels=LABELS)


def test_empty_short_window_mentions_the_last_digest():
    digest = build([], window=(NOW - timedelta(hours=3), NOW), reading_minutes=1)
    assert "quiet since your last digest" in render_text(digest, labels=LABELS)
    assert "Enjoy the extra one minute." in render_text(digest, labels=LABELS)


def test_html_has_no_scripts_and_a_preheader_and_greeting():
    html = render_html(build([make_post("1", title="Exit tickets")]), labels=LABELS)
    assert "<script" not in html
    assert "Good morning, Ana" in html
    assert "display:none" in html  # the preheader
    assert "max-width: 600px" in html


def test_an_untitled_post_is_headed_by_its_first_sentence_or_first_words():
    short = make_post("1", title=None, text="Exit tickets save my Fridays. Here is how I use them.")
    long = make_post(
        "2",
        title=None,
        text="Our district science fair is open to every middle "
        "school this year: registration closes Friday",
    )
    digest = build([short, long])
    headlines = {entry.post.external_id: entry.headline for entry in digest.entries}
    assert headlines == {
        "1": "Exit tickets save my Fridays.",
        "2": "Our district science fair is open to every middle school this year\u2026",
    }


# Texts made of what wrapping treats specially: spaces, tabs, hyphens, line
# breaks of every kind, no-break spaces.
_WRAPPABLE = st.text(st.sampled_from(list("ab -\t\n\r\x0b\u00a0\u2028x.,")), max_size=120)


@settings(max_examples=500)
@given(
    _WRAPPABLE,
    st.integers(1, 80),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["\n", "\n  ", "\n   "]),
)
def test_the_text_version_wraps_exactly_as_jinja2s_wordwrap(
    text: str, width: int, break_long_words: bool, break_on_hyphens: bool, wrapstring: str
) -> None:
    # The digest's own filter skips lines that fit; the text must not change.
    ours = _environment().filters["wordwrap"](
        text, width, break_long_words, wrapstring, break_on_hyphens
    )
    env = jinja2.Environment()
    assert ours == do_wordwrap(env, text, width, break_long_words, wrapstring, break_on_hyphens)

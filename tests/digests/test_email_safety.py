"""The HTML digest is safe to send: what email clients keep, under Gmail's clipping size."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from aggregator.domain.post import Engagement
from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.render import MAX_HTML_BYTES, render_html

LABELS = network_labels()


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <style> blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _without_media_rules(css: str) -> str:
    """CSS with every @media block removed (braces balanced by hand)."""
    out, depth, i = [], 0, 0
    while i < len(css):
        if depth == 0 and css.startswith("@media", i):
            j = css.index("{", i)
            depth, i = 1, j + 1
            continue
        if depth:
            depth += {"{": 1, "}": -1}.get(css[i], 0)
        else:
            out.append(css[i])
        i += 1
    return "".join(out).strip()


def assert_email_safe(html: str) -> None:
    """What the issue asks of an email body, checked element by element."""
    assert len(html.encode()) < MAX_HTML_BYTES
    parser = _Elements()
    parser.feed(html)
    tags = parser.tags
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "form")]
    assert not [a for t, a in tags if t == "link"]  # no external stylesheet (or anything)
    assert "@import" not in html and "url(" not in html
    # <style> holds only @media enhancements: the layout never needs it.
    assert all(_without_media_rules(css) == "" for css in parser.styles)
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "class" in attrs and tag not in ("body",):
            assert attrs.get("style"), f"<{tag} class={attrs['class']}> has no inline style"
        if "width" in attrs and attrs["width"].isdigit():
            assert int(attrs["width"]) <= 600
        for px in re.findall(r"(?<![-\w])width:\s*(\d+)px", attrs.get("style", "")):
            assert int(px) <= 600, (tag, attrs["style"])
        if tag == "img":
            assert attrs.get("alt"), attrs
            assert attrs["src"].startswith("https://") or attrs["src"].startswith("http://")
        if tag == "img" and attrs.get("class") == "image":  # a story's picture
            assert attrs["src"].startswith("https://") and attrs["width"].isdigit(), attrs
            assert "height" not in attrs, attrs  # blocked, it closes up to its alt text
        if tag == "a":
            assert re.match(r"https?://", attrs.get("href", "")), attrs
    tables = [a for t, a in tags if t == "table"]
    assert tables and all(a.get("role") == "presentation" for a in tables)


def busy_day(count, text_words=200, html_chars=0):
    """`count` posts from three sources, each with an image, links and counts."""
    return [
        make_post(
            f"{i:05d}",
            hours_ago=(i % 230) / 10,
            source_key=("blog", "social", "pod")[i % 3],
            author=f"Teacher {i}",
            text=words(text_words),
            html=("<p>" + "x" * html_chars + "</p>") if html_chars else "",
            image_url=f"https://img.example/{i}.png",
            title=("A long title about formative assessment and feedback " * 3) + str(i),
            engagement=Engagement(likes=i % 97, reposts=i % 13, replies=i % 7),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 12, 200])
def test_ordinary_days_are_email_safe(count):
    digest = build_digest_from_posts(busy_day(count), make_recipient(), {}, NOW, WINDOW)
    assert_email_safe(render_html(digest, labels=LABELS))


def test_a_huge_day_stays_under_gmails_clipping_size():
    # 3,000 posts and an hour of reading: far more than 100 KB could hold.
    recipient = make_recipient(reading_minutes=60, follow=("blog", "social", "pod"))
    digest = build_digest_from_posts(
        busy_day(3000, text_words=60, html_chars=3500), recipient, {}, NOW, WINDOW
    )
    html = render_html(digest, labels=LABELS)
    assert_email_safe(html)
    assert len(digest.entries) >= 5 and digest.also  # still a real digest, not a stub


def test_post_html_that_is_too_large_is_shown_as_its_excerpt():
    post = make_post("1", text=words(40, "notes"), html="<p>" + "y" * 60_000 + "</p>")
    html = render_html(
        build_digest_from_posts([post], make_recipient(), {}, NOW, WINDOW), labels=LABELS
    )
    assert "y" * 100 not in html and "notes notes" in html
    assert_email_safe(html)


def test_dark_mode_and_phone_rules_are_present():
    html = render_html(
        build_digest_from_posts(busy_day(3), make_recipient(), {}, NOW, WINDOW), labels=LABELS
    )
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html and "@media (max-width: 620px)" in html

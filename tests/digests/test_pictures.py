"""A top story's picture: https only, width and alt set, never a tracker, fine when blocked."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from digest_factory import NOW, WINDOW, make_post, make_recipient, words
from test_email_safety import assert_email_safe

from connectors import network_labels
from digests.compose import TOP_STORIES, build_digest_from_posts
from digests.render import render_html, render_text

LABELS = network_labels()
SOURCES = {"blog": "Cult of Pedagogy", "social": "#edchat on Mastodon"}


def build(posts):
    return build_digest_from_posts(posts, make_recipient(), SOURCES, NOW, WINDOW)


def images(html):
    return [
        dict(re.findall(r'([a-z-]+)="([^"]*)"', tag)) for tag in re.findall(r"<img\b[^>]*>", html)
    ]


def test_a_top_story_shows_its_picture_with_width_and_alt():
    post = make_post("1", title="Exit tickets", image_url="https://img.example/exit.jpg")
    digest = build([post])
    html = render_html(digest, labels=LABELS)
    [image] = images(html)
    assert image["src"] == "https://img.example/exit.jpg"
    assert image["width"] == "536" and "height" not in image
    assert image["alt"] == "Picture from Cult of Pedagogy: Exit tickets"
    # The picture is a link to the story, like its headline.
    assert re.search(r'<a href="https://example.org/blog/1"[^>]*><img ', html)
    assert_email_safe(html)
    assert "img.example" not in render_text(digest, labels=LABELS)


def test_only_top_stories_show_pictures():
    posts = [
        make_post(str(i), hours_ago=1 + i / 10, image_url=f"https://img.example/{i}.jpg")
        for i in range(8)
    ]
    digest = build(posts)
    assert len(digest.entries) > TOP_STORIES
    shown = [image["src"] for image in images(render_html(digest, labels=LABELS))]
    top = [entry.post.image_url for entry in digest.entries[:TOP_STORIES]]
    assert shown == top
    assert all(entry.image_url == "" for entry in digest.entries[TOP_STORIES:])


def test_an_image_enclosure_is_a_picture_too():
    post = make_post(
        "1", media_url="https://img.example/cover.png", media_type="image/png", image_url=None
    )
    assert build([post]).entries[0].image_url == "https://img.example/cover.png"


def test_plain_http_and_tracking_pixels_are_never_shown():
    posts = [
        make_post("1", hours_ago=1, image_url="http://img.example/plain.jpg"),
        make_post("2", hours_ago=2, image_url="https://pixel.wp.com/g.gif?blog=1"),
        make_post("3", hours_ago=3, image_url="javascript:alert(1)"),
    ]
    digest = build(posts)
    assert len(digest.entries) == 3
    assert images(render_html(digest, labels=LABELS)) == []


def test_a_picture_already_in_the_posts_html_is_not_shown_twice():
    src = "https://img.example/a.jpg?w=600&h=400"
    post = make_post(
        "1",
        text="A short post with a photo.",
        html=f'<p>A short post with a photo.</p><img src="{src.replace("&", "&amp;")}" alt="x">',
        image_url=src,
    )
    digest = build([post])
    assert digest.entries[0].shows_html and digest.entries[0].image_url == ""
    assert len(images(render_html(digest, labels=LABELS))) == 1


class _Visible(HTMLParser):
    """What a reader sees with images blocked: text, and each image's alt text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag in ("style", "title") or "display:none" in (found.get("style") or ""):
            self._hidden += 1
        if tag == "img":
            self.parts.append(f"[{found['alt']}]")

    def handle_endtag(self, tag):
        if tag in ("style", "title", "div") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def test_with_images_blocked_the_digest_still_reads_in_order():
    posts = [
        make_post(
            str(i),
            hours_ago=1 + i,
            title=f"Story number {i}",
            text=words(40),
            image_url=f"https://img.example/{i}.jpg",
        )
        for i in range(3)
    ]
    visible = _Visible()
    visible.feed(render_html(build(posts), labels=LABELS))
    seen = " | ".join(visible.parts)
    # Each picture's place says what it is, right after its story's headline.
    for i in range(3):
        assert f"Story number {i} | Cult of Pedagogy" in seen
        assert f"[Picture from Cult of Pedagogy: Story number {i}]" in seen
        assert seen.index(f"Story number {i} |") < seen.index(
            f"[Picture from Cult of Pedagogy: Story number {i}]"
        )

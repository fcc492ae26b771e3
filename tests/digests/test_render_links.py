"""The links to the service a digest carries: view in browser, manage,
unsubscribe, and "more / less like this" under each story."""

from __future__ import annotations

import re

from digest_factory import NOW, WINDOW, make_post, make_recipient

from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.render import DigestLinks, render_html, render_text

LABELS = network_labels()
BASE = "https://digest.school.org"


def _digest():  # type: ignore[no-untyped-def]
    posts = [make_post("1", hours_ago=2), make_post("2", hours_ago=3)]
    return build_digest_from_posts(
        posts, make_recipient(), {"blog": "A Blog"}, NOW, WINDOW, labels=LABELS
    )


def _links(digest, feedback_scheme="https"):  # type: ignore[no-untyped-def]
    return DigestLinks(
        unsubscribe=f"{BASE}/u/tok-u",
        archive=f"{BASE}/d/tok-d",
        manage=f"{BASE}/m/tok-m",
        feedback={
            (e.post.source_key, e.post.external_id): (
                f"{feedback_scheme}://digest.school.org/f/more/tok-{e.post.external_id}",
                f"{BASE}/f/less/tok-{e.post.external_id}",
            )
            for e in digest.entries
        },
    )


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_the_html_links_to_the_browser_copy_the_manage_page_and_each_story_feedback() -> None:
    digest = _digest()
    html = render_html(digest, labels=LABELS, links=_links(digest))
    ours = [h for h in _hrefs(html) if h.startswith(BASE)]
    assert ours.count(f"{BASE}/d/tok-d") == 2  # above the digest and in its footer
    assert f"{BASE}/m/tok-m" in ours and f"{BASE}/u/tok-u" in ours
    for entry in digest.entries:
        n = entry.post.external_id
        assert f"{BASE}/f/more/tok-{n}" in ours and f"{BASE}/f/less/tok-{n}" in ours
    assert "View it in your browser" in html and "Manage your digest" in html


def test_the_text_footer_names_each_link_on_its_own_line() -> None:
    digest = _digest()
    text = render_text(digest, labels=LABELS, links=_links(digest))
    footer = text.split("\n--\n", 1)[1].splitlines()
    assert footer[1:] == [
        f"View in a browser: {BASE}/d/tok-d",
        f"Manage your digest: {BASE}/m/tok-m",
        f"Unsubscribe: {BASE}/u/tok-u",
    ]


def test_without_links_the_digest_has_no_link_to_the_service() -> None:
    digest = _digest()
    for output in (render_html(digest, labels=LABELS), render_text(digest, labels=LABELS)):
        assert "digest.school.org" not in output
        assert "in your browser" not in output and "View in a browser" not in output


def test_a_link_that_is_not_http_is_never_shown() -> None:
    digest = _digest()
    html = render_html(digest, labels=LABELS, links=_links(digest, "javascript"))
    assert "javascript:" not in html and "More like this" not in html

"""The HTML allow-list: what a digest may show of a source's HTML."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sanitize import html_to_text, plain_text, sanitize_html

BASE = "https://blog.example.org/posts/feed.xml"


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        pytest.param("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>", id="formatting-kept"),
        pytest.param("<script>alert(1)</script><p>x</p>", "<p>x</p>", id="script-and-content"),
        pytest.param("<style>p{color:red}</style>x", "x", id="style-and-content"),
        pytest.param('<iframe src="https://e.example/"></iframe>x', "x", id="iframe"),
        pytest.param(
            '<form action="https://e.example/"><input name="pw">x</form>', "x", id="form-input"
        ),
        pytest.param('<object data="x.swf"></object><embed src="x.swf">x', "x", id="object-embed"),
        pytest.param(
            '<p onclick="alert(1)" style="position:absolute">x</p>', "<p>x</p>", id="handlers-style"
        ),
        pytest.param(
            '<meta http-equiv="refresh" content="0;url=https://e/"><link rel="stylesheet" href="x">x',
            "x",
            id="meta-link",
        ),
        pytest.param("<svg><script>alert(1)</script></svg>x", "x", id="svg"),
        pytest.param("<!-- secret -->x", "x", id="comment"),
    ],
)
def test_dangerous_markup_is_removed(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty, BASE) == clean


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_script_urls_are_dropped_from_links(href: str) -> None:
    out = sanitize_html(f'<a href="{href}">click</a>', BASE)
    assert out == '<a rel="noopener noreferrer">click</a>'


def test_links_are_absolute_and_get_rel() -> None:
    out = sanitize_html(
        '<a href="../about" target="_blank" rel="opener">a</a> <a href="mailto:x@y.org">m</a>', BASE
    )
    assert out == (
        '<a href="https://blog.example.org/about" rel="noopener noreferrer">a</a> '
        '<a href="mailto:x@y.org" rel="noopener noreferrer">m</a>'
    )


def test_relative_links_without_a_base_are_dropped() -> None:
    assert sanitize_html('<a href="/x">a</a>') == '<a rel="noopener noreferrer">a</a>'


@pytest.mark.parametrize(
    ("img", "kept"),
    [
        (
            '<img src="pic.png" alt="A">',
            '<img src="https://blog.example.org/posts/pic.png" alt="A">',
        ),
        ('<img src="https://cdn.example.org/p.gif" width="1" height="1">', ""),
        ('<img src="https://cdn.example.org/p.gif" width="0">', ""),
        ('<img src="https://cdn.example.org/p.gif" height="1px">', ""),
        ('<img src="data:image/png;base64,iVBORw0KGgo=">', ""),
        ('<img src="mailto:x@y.org">', ""),
        ('<img src="javascript:alert(1)" onerror="alert(2)">', ""),
        ('<img src="https://pixel.wp.com/g.gif?blog=1&amp;post=2">', ""),
        ('<img src="https://school.us5.list-manage.com/track/open.php?u=1">', ""),
        ('<img src="http://feeds.feedburner.com/~r/Edutopia/~4/abc">', ""),
        ('<img src="https://eduweekly.substack.com/o/abc.gif">', ""),
        (
            '<img src="https://i0.wp.com/blog.example.org/pic.jpg" alt="">',
            '<img src="https://i0.wp.com/blog.example.org/pic.jpg" alt="">',
        ),
        (
            '<img src="https://cdn.example.org/a.png" alt="a > b" width="640">',
            '<img src="https://cdn.example.org/a.png" alt="a &gt; b" width="640">',
        ),
    ],
)
def test_images_must_be_web_and_not_tracking_pixels(img: str, kept: str) -> None:
    assert sanitize_html(f"<p>{img}</p>", BASE) == f"<p>{kept}</p>"


def test_tables_headings_and_quotes_survive() -> None:
    html = '<h2>T</h2><blockquote>q</blockquote><table><tr><td colspan="2">c</td></tr></table><pre><code>x</code></pre>'
    out = sanitize_html(html, BASE)
    assert out == (
        "<h2>T</h2><blockquote>q</blockquote>"
        '<table><tbody><tr><td colspan="2">c</td></tr></tbody></table><pre><code>x</code></pre>'
    )


def test_html_to_text_collapses_whitespace_and_decodes_entities() -> None:
    html = "<p>One&nbsp;two &amp; three</p>\n\n<p>four&lt;five</p><ul><li>six</li><li>seven</li></ul><script>no</script>"
    assert html_to_text(html) == "One two & three four<five six seven"
    assert (
        html_to_text(sanitize_html(html), is_sanitized=True)
        == "One two & three four<five six seven"
    )


def test_plain_text_strips_markup_from_titles() -> None:
    assert plain_text("x <script>alert(1)</script> <b>bold</b> &amp; co") == "x bold & co"
    assert plain_text("  a   <  b  ") == "a < b"
    assert plain_text("AT&amp;T") == "AT&T"


_PIECES = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<a href=",
        "javascript:",
        "JaVaScript:",
        "&#106;",
        "&#x6A;",
        "\t",
        "\n",
        "<img src=",
        " onerror=",
        " onclick=",
        "ONLOAD=",
        '"',
        "'",
        ">",
        "<",
        "/",
        "=",
        "<svg>",
        "<iframe",
        "<p ",
        "style=",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "alert(1)",
        "x",
        " ",
        "&",
        ";",
        "data:",
        "vbscript:",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=40).map("".join))
def test_no_script_handler_or_javascript_url_survives_any_input(dirty: str) -> None:
    out = sanitize_html(dirty, BASE).lower()
    assert "<script" not in out
    assert re.search(r"<[^>]*\son[a-z]*\s*=", out) is None
    for url in re.findall(r'\s(?:href|src)="([^"]*)"', out):
        assert url.startswith(("http://", "https://", "mailto:")), url


@pytest.mark.parametrize(
    "img",
    [
        pytest.param('<img style="display:none" src="https://t.example/o.gif">', id="display-none"),
        pytest.param(
            '<img style="DISPLAY : None !important" src="https://t.example/o.gif">',
            id="display-none-loud",
        ),
        pytest.param('<img style="visibility:hidden" src="https://t.example/o.gif">', id="hidden"),
        pytest.param('<img style="opacity:0" src="https://t.example/o.gif">', id="opacity-0"),
        pytest.param('<img style="opacity:0.0" src="https://t.example/o.gif">', id="opacity-0.0"),
        pytest.param('<img style="opacity:0%" src="https://t.example/o.gif">', id="opacity-0%"),
        pytest.param('<img style="width:1px;height:1px" src="https://t.example/o.gif">', id="1x1"),
        pytest.param('<img style="width: 0; height: 0" src="https://t.example/o.gif">', id="0x0"),
        pytest.param('<img hidden src="https://t.example/o.gif">', id="hidden-attribute"),
        pytest.param('<img width="1" height="1" src="https://t.example/o.gif">', id="1x1-attrs"),
    ],
)
def test_a_hidden_image_is_dropped_not_shown_once_its_style_is_gone(img: str) -> None:
    assert sanitize_html(f"<p>Hello{img}</p>") == "<p>Hello</p>"


def test_a_visible_image_keeps_its_size_and_alt_but_no_style() -> None:
    out = sanitize_html(
        '<img style="opacity:.5;border:0" width="600" src="https://cdn.example/a.jpg" alt="A &amp; b">'
    )

    assert out == '<img width="600" src="https://cdn.example/a.jpg" alt="A &amp; b">'

"""Fuzzing the feed path: mutated real feeds through `parse_feed` and the sanitiser.

Runs a bounded number of examples in CI (about ten seconds). Run it longer
locally with, e.g.:

    PLN_FUZZ_EXAMPLES=100000 python -m pytest tests/test_fuzz_feeds.py -q

Every example must end in posts without any forbidden construct, or in a
ParseError; any other exception is a bug (hypothesis prints the input).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.domain.errors import ParseError
from aggregator.domain.post import Post
from connectors.rss.parse import parse_feed

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 9, 1, tzinfo=UTC)
URL = "https://blog.example.org/feed.xml"
MAX_SEED_BYTES = 40_000  # bigger seeds make each example slow without finding more
SEEDS = [
    p.read_bytes()
    for folder in ("feeds", "hostile")
    for p in sorted((DATA / folder).rglob("*"))
    if p.is_file()
    and p.suffix in (".xml", ".rss", ".atom", ".json", ".html")
    and p.stat().st_size <= MAX_SEED_BYTES
]
EXAMPLES = int(os.environ.get("PLN_FUZZ_EXAMPLES", "1500"))

# Hostile fragments spliced into the documents: markup attacks (as raw XML, as
# CDATA, as escaped text), entity tricks, encoding and structure breakers.
PAYLOADS = [
    b'<![CDATA[<img src=x onerror=alert(1)><a href="javascript:alert(2)">j</a>]]>',
    b"&lt;script&gt;alert(1)&lt;/script&gt;",
    b'<![CDATA[<iframe src="https://e.example/"></iframe><form><input></form><style>*{}</style>]]>',
    b'<![CDATA[<p style="position:fixed" onmouseover="x()">o</p><meta http-equiv="refresh" content="0">]]>',
    b'<![CDATA[<a href="data:text/html,x">d</a><a href="vbscript:x">v</a><img src="https://t/p" width=1>]]>',
    b'<![CDATA[<svg><script>x</script></svg><object data="x"></object><embed src="x"><base href="x">]]>',
    b"<script>alert(3)</script>",
    b'<a href="javascript:alert(4)">x</a>',
    b'<!DOCTYPE x [<!ENTITY e "&#60;script&#62;">]>',
    b"&e;",
    b"<!ENTITY",
    b"%e;",
    b"</item>",
    b"<item>",
    b"</entry>",
    b"<entry>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3(",
    b"&#x0;",
    b"&#xD800;",
    b"&amp",
    b"<",
    b">",
    b'", "content_html": "<script>x</script><a href=\\"javascript:y\\">z</a>", "x": "',
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 1}]}',
]

# Checked on each tag of the output (text is escaped, so "<" only starts a tag).
_TAG = re.compile(r"<[^>]*>")
_FORBIDDEN = re.compile(
    r"<(?:script|iframe|object|embed|form|input|meta|base|link|style|svg|math|noscript)\b"
    # Attributes start after white space: "src=" inside a (safe, percent-encoded)
    # URL value is text, not an attribute.
    r"|\son[a-z]+\s*=|\sstyle\s*=|\s(?:href|src)=\"(?!https?://|mailto:)",
    re.IGNORECASE,
)


def _mutate(data: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    """Apply (kind, position, length, payload) edits: insert, delete, overwrite, duplicate."""
    for kind, position, length, payload in edits:
        at = position % (len(data) + 1)
        if kind == 0:
            data = data[:at] + payload + data[at:]
        elif kind == 1:
            data = data[:at] + data[at + length :]
        elif kind == 2:
            data = data[:at] + payload + data[at + len(payload) :]
        else:
            data = data[:at] + data[at : at + length] * 2 + data[at + length :]
    return data


def assert_safe(post: Post) -> None:
    """What every stored post must look like, whatever the document held."""
    for tag in _TAG.findall(post.html):
        assert _FORBIDDEN.search(tag) is None, tag
    for tag in re.findall(r"<a\s[^>]*>", post.html):
        assert 'rel="noopener noreferrer"' in tag, tag
    for img in re.findall(r"<img\s[^>]*>", post.html):
        assert not re.search(r'(?:width|height)="[01](?:px)?"', img), img
    # A title is plain text as the feed wrote it (templates escape it): it may
    # hold "<" or "&lt;" literally. A byline's markup is stripped.
    assert "<" not in post.author or "&lt;" not in post.author, post.author
    assert "<" not in post.text or "<" in post.html or "&lt;" in post.html
    for url in (post.url, post.media_url, post.image_url, *post.links):
        assert not url or url.startswith(("http://", "https://")), url
    assert post.published_at <= NOW and post.published_at.tzinfo is not None


# The suite's run is the same every time (a red CI must mean a real change);
# a longer local run (PLN_FUZZ_EXAMPLES) explores at random.
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="PLN_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, MAX_SEED_BYTES),
            st.integers(0, 200),
            st.sampled_from(PAYLOADS) | st.binary(max_size=16),
        ),
        min_size=1,
        max_size=6,
    ),
    content_type=st.sampled_from(
        [
            "",
            "application/rss+xml",
            "application/atom+xml; charset=utf-8",
            "text/xml",
            "text/html",
            "application/feed+json",
            "application/xml; charset=iso-8859-1",
        ]
    ),
)
def test_mutated_feeds_parse_to_safe_posts_or_a_parse_error(
    seed: bytes, edits: list[tuple[int, int, int, bytes]], content_type: str
) -> None:
    document = _mutate(seed, edits)
    try:
        posts = parse_feed("blog", document, content_type, URL, NOW)
    except ParseError as exc:
        assert exc.source_key == "blog" and exc.message and "\n" not in exc.message
        return
    for post in posts:
        assert_safe(post)


def test_a_nul_byte_in_the_declared_encoding_is_a_parse_error() -> None:
    """Found by this fuzzer: feedparser's codec lookup raised ValueError."""
    document = (
        b'<?xml version="1.0" encoding="UT\x00F-8"?><rss version="2.0"><channel></channel></rss>'
    )
    try:
        parse_feed("blog", document, "", URL, NOW)
    except ParseError as exc:
        assert exc.message == "not a feed (unreadable character encoding)"

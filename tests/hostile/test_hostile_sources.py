"""Hostile sources through the real path: config file -> build_app -> fetch_sources.

One loopback server plays a good feed host and every kind of hostile one; a
second loopback server (a port the configuration does *not* allow) must never
be reached. The whole run happens once per module; each case then checks what
was recorded on its source, and the module checks what was stored overall.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
from aggregator.domain.post import Post
from aggregator.domain.source import FetchOutcome, SourceStatus
from connectors.rss.parse import parse_feed
from tests.hostile.server import HostileServer, deflate_bomb, gzip_bomb, nested_gzip

DATA = Path(__file__).parent.parent / "data"
HOSTILE = DATA / "hostile"
REAL = DATA / "feeds" / "real-world"
GOOD_FEED = DATA / "feeds" / "reader" / "full.rss"
MARKER = "PLN-SECRET-MARKER-7d41"  # in a local file an XXE points at
REBIND_LOOPBACK = "feeds.rebind.test"  # a DNS name the test resolves to 127.0.0.1
REBIND_PRIVATE = "intranet.rebind.test"  # ... and one resolving to 10.0.0.7
TIMEOUT_S = 1.2  # fetch.timeout_seconds; a whole fetch ends within 3x this
MAX_BODY = 200_000
SLOW = f"timed out after {3 * TIMEOUT_S:g} s (the server sends too slowly)"
TOO_BIG = "feed is larger than fetch.max_body_bytes (200 kB); raise the limit or ask the publisher"
RSS = "application/rss+xml"


@dataclass
class Case:
    """One source: where it points, and what must be recorded for it.

    `error` is a regex the source's last_error must match in full (None: the
    fetch succeeded); `problem` likewise for a fetch that succeeded in part
    (what was valid is stored, the problem recorded); `titles` are titles that must be stored (in any order),
    `words` are words that must appear in the stored text.
    """

    url: str
    error: str | None
    titles: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    posts: int | None = None
    problem: str | None = None


def _refused(host: str, port: int | str, ip: str) -> str:
    return (
        re.escape(f"refused to connect to {host}:{port} ({ip} is a private or local address)")
        + "; list it in fetch.allow_private if this is intended"
    )


def cases(base: str, other_port: int) -> dict[str, Case]:
    """Every case by source key (also its pytest id)."""
    return {
        "good": Case(f"{base}/good.rss", None, posts=2),
        "billion-laughs-multiline": Case(f"{base}/laughs-multi.xml", None, posts=1),
        "billion-laughs-oneline": Case(f"{base}/laughs-one.xml", None, posts=1),
        "quadratic-blowup": Case(f"{base}/quadratic.xml", None, posts=1),
        "xxe-local-file": Case(f"{base}/xxe-file.xml", None, titles=("&xxe;",)),
        "xxe-parameter-entity": Case(f"{base}/xxe-pe.xml", None, posts=1),
        "markup-and-script-urls": Case(f"{base}/markup.rss", None, posts=2),
        "body-over-cap": Case(f"{base}/huge.rss", re.escape(TOO_BIG)),
        "gzip-bomb": Case(f"{base}/bomb.gz", re.escape(TOO_BIG)),
        "deflate-bomb": Case(f"{base}/bomb.deflate", re.escape(TOO_BIG)),
        "nested-gzip-bomb": Case(f"{base}/bomb.gzgz", re.escape(TOO_BIG)),
        "never-ending-body": Case(f"{base}/endless.rss", re.escape(TOO_BIG)),
        "drip-body-1-byte-per-s": Case(f"{base}/drip-body.rss", re.escape(SLOW)),
        "drip-headers-1-byte-per-s": Case(f"{base}/drip-headers.rss", re.escape(SLOW)),
        "redirect-loop": Case(f"{base}/loop-a", re.escape(f"redirect loop at {base}/loop-a")),
        "redirect-chain-too-long": Case(
            f"{base}/hop/0", re.escape("too many redirects (more than 5)")
        ),
        "redirect-other-loopback-port": Case(
            f"{base}/to-other-port", _refused("127.0.0.1", other_port, "127.0.0.1")
        ),
        "redirect-metadata-169-254": Case(
            f"{base}/to-metadata", _refused("169.254.169.254", 80, "169.254.169.254")
        ),
        "redirect-10-x": Case(f"{base}/to-ten", _refused("10.1.2.3", 8080, "10.1.2.3")),
        "redirect-to-file-scheme": Case(
            f"{base}/to-file",
            re.escape("only http and https URLs can be fetched, not file:///etc/passwd"),
        ),
        "url-metadata-169-254": Case(
            "http://169.254.169.254/latest/meta-data/",
            _refused("169.254.169.254", 80, "169.254.169.254"),
        ),
        "url-10-x": Case("http://10.0.0.1/feed", _refused("10.0.0.1", 80, "10.0.0.1")),
        "dns-name-to-loopback": Case(
            f"http://{REBIND_LOOPBACK}:{other_port}/good.rss",
            _refused(REBIND_LOOPBACK, other_port, "127.0.0.1"),
        ),
        "dns-name-to-10-x": Case(
            f"http://{REBIND_PRIVATE}/feed", _refused(REBIND_PRIVATE, 80, "10.0.0.7")
        ),
        "charset-latin1-served-as-utf8": Case(
            f"{base}/latin1-as-utf8.rss", None, words=("wünschen",)
        ),
        "charset-cp1251-served-as-latin1": Case(
            f"{base}/cp1251-as-latin1.rss", None, words=("#17703",)
        ),
        "charset-utf8-as-text-xml": Case(f"{base}/urdu.xml", None, words=("امریکی",)),
        "charset-unknown-name": Case(f"{base}/urdu-bogus.xml", None, words=("امریکی",)),
        "invalid-utf8-bytes": Case(f"{base}/invalid-bytes.rss", None, words=("امریکی",)),
        # A blog's home page naming its one feed is read from that feed.
        "html-page-with-feed-link": Case(f"{base}/blog/", None, posts=2),
        "html-page-naming-a-missing-feed": Case(
            f"{base}/gone-blog/",
            re.escape(
                f"the feed this page names ({base}/gone-blog/feed.xml): not found (404): check the URL"
            ),
        ),
        "html-page-without-feed-link": Case(f"{base}/login", re.escape("not a feed (HTML page)")),
        "json-feed-1-1": Case(
            f"{base}/feed.json", None, titles=("Exit tickets", "Plain text post")
        ),
        "truncated-feed": Case(
            f"{base}/truncated.xml",
            None,
            problem=re.escape(
                "the feed is cut off or is broken XML (no element found); "
                "kept 1 complete item(s) and left out a partial one"
            ),
            titles=("first",),
            posts=1,
        ),
        "empty-200": Case(f"{base}/empty.xml", re.escape("empty document")),
        "not-found-404": Case(f"{base}/missing.rss", re.escape("not found (404): check the URL")),
        "undefined-entity-in-channel": Case(
            f"{base}/undefined-entity.rss", None, titles=("One", "Two"), posts=2
        ),
        "titles-that-look-like-tags": Case(
            f"{base}/tag-titles.xml",
            None,
            titles=("History of the <blink> tag", "Teaching the <canvas> element", "a<b, c>d"),
        ),
        "addresses-in-bylines": Case(f"{base}/bylines.rss", None, posts=2),
        "empty-items": Case(f"{base}/empty-items.rss", None, titles=("Real",), posts=1),
    }


# -- documents served ---------------------------------------------------------------


def _xxe_file(marker_file: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file://{marker_file}">\n]>\n'
        '<rss version="2.0"><channel><title>xxe</title><link>https://example.org/</link>'
        "<item><title>&xxe;</title><link>https://example.org/1</link><guid>xxe-1</guid>"
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()


def _xxe_parameter(base: str, marker_file: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{base}/evil.dtd" [\n'
        f'<!ENTITY % remote SYSTEM "{base}/remote.dtd">\n%remote;\n'
        f'<!ENTITY % file SYSTEM "file://{marker_file}">\n]>\n'
        '<rss version="2.0"><channel><title>pe</title><link>https://example.org/</link>'
        "<item><title>pe &ent; %file;</title><link>https://example.org/1</link><guid>pe-1</guid>"
        "</item></channel></rss>"
    ).encode()


_MARKUP_ITEM = """<item><title>{title}</title><guid>m-{n}</guid><link>https://example.org/{n}</link>
<author>x@example.org (Ana &lt;img src=x onerror=alert(1)&gt;)</author>
<description><![CDATA[{html}]]></description></item>"""

_MARKUP = [
    (
        "Hello &lt;script&gt;alert(1)&lt;/script&gt; <![CDATA[<b>bold</b>]]>",
        '<p onclick="alert(1)" style="position:fixed;top:0">Hi</p><script>alert(2)</script>'
        '<a href="javascript:alert(3)">j</a><a href="data:text/html,x">d</a><a href="vbscript:x">v</a>'
        '<a href=" jav&#x09;ascript:alert(4)">t</a><iframe src="https://evil.example/"></iframe>'
        '<object data="x.swf"></object><embed src="x.swf"><form action="https://e.example/"><input></form>'
        '<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/">'
        '<img src="https://t.example/p.gif" width="1" height="1"><img src="data:image/png;base64,AAAA">'
        '<img src="javascript:alert(5)"><img src="https://cdn.example/photo.jpg" onerror="alert(6)" alt="ok">'
        '<svg onload="alert(7)"><script>alert(8)</script></svg><style>*{display:none}</style>'
        '<a href="/rel/link" target="_blank">relative</a>',
    ),
    (
        "Second <i>post</i>",
        '<div style="opacity:0"><p>kept text</p></div><link rel="stylesheet" href="https://e.example/x.css">'
        '<img src="http://img.example/a.png" width="0"><a href="https://ok.example/x">ok</a>'
        '<math><mi xlink:href="javascript:alert(9)">m</mi></math><noscript><p>hidden</p></noscript>',
    ),
]


def _markup_feed() -> bytes:
    items = "".join(_MARKUP_ITEM.format(n=n, title=t, html=h) for n, (t, h) in enumerate(_MARKUP))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>m</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


def _json_feed() -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "PLN Weekly",
            "authors": [{"name": "Feed <b>Author</b>"}],
            "items": [
                {
                    "id": "j1",
                    "title": "Exit tickets",
                    "url": "https://pln.example/1",
                    "content_html": '<p>Use <a href="https://x.example/">exit tickets</a></p><script>x()</script>',
                    "authors": [{"name": "Luis"}],
                    "date_published": "2026-08-30T10:00:00Z",
                },
                {
                    "id": 2,
                    "title": "Plain text post",
                    "content_text": "<b>not bold</b> & friends",
                    "image": "javascript:alert(1)",
                    "attachments": [
                        {"url": "https://pln.example/a.mp3", "mime_type": "audio/mpeg"}
                    ],
                },
            ],
        }
    ).encode()


def _with_invalid_bytes(body: bytes) -> bytes:
    """A UTF-8 feed with a few stray bytes inside item titles."""
    parts = body.split(b"<title>")
    return b"<title>".join(parts[:3] + [b"\xff\xfe\xc3(" + p for p in parts[3:6]] + parts[6:])


_HTML_WITH_FEED = (
    b'<!DOCTYPE html><html><head><title>Blog</title><link rel="stylesheet" href="/s.css">'
    b"<link type='application/atom+xml' href='feed.xml' rel='alternate'></head>"
    b"<body><p>Hello</p></body></html>"
)


def serve(srv: HostileServer, other_port: int, marker_file: Path) -> None:
    """Put every case's behaviour on `srv`."""
    base = srv.base_url
    srv.static("/good.rss", RSS, GOOD_FEED.read_bytes(), {"ETag": '"good-v1"'})
    for path, name in [
        ("/laughs-multi.xml", "billion_laughs_multiline.xml"),
        ("/laughs-one.xml", "billion_laughs_oneline.xml"),
        ("/quadratic.xml", "quadratic_blowup.xml"),
        ("/truncated.xml", "truncated.xml"),
        ("/empty.xml", "empty_200.xml"),
    ]:
        srv.static(path, RSS, (HOSTILE / name).read_bytes())
    srv.static("/xxe-file.xml", RSS, _xxe_file(marker_file))
    srv.static("/xxe-pe.xml", RSS, _xxe_parameter(base, marker_file))
    srv.static("/evil.dtd", "application/xml-dtd", f'<!ENTITY ent "{MARKER}">'.encode())
    srv.static("/remote.dtd", "application/xml-dtd", f'<!ENTITY ent "{MARKER}">'.encode())
    srv.static("/markup.rss", RSS, _markup_feed())
    srv.static("/huge.rss", RSS, b"<rss>" + b" " * (MAX_BODY + 1000) + b"</rss>")
    srv.static("/bomb.gz", RSS, gzip_bomb(64 << 20), {"Content-Encoding": "gzip"})
    srv.static("/bomb.deflate", RSS, deflate_bomb(64 << 20), {"Content-Encoding": "deflate"})
    srv.static("/bomb.gzgz", RSS, nested_gzip(bytes(256 << 20)), {"Content-Encoding": "gzip, gzip"})
    srv.endless("/endless.rss")
    srv.drip("/drip-body.rss", GOOD_FEED.read_bytes(), every_s=1.0)
    srv.drip("/drip-headers.rss", GOOD_FEED.read_bytes(), every_s=1.0, in_headers=True)
    srv.redirect("/loop-a", "/loop-b")
    srv.redirect("/loop-b", f"{base}/loop-a", status=301)
    for n in range(10):
        srv.redirect(f"/hop/{n}", f"/hop/{n + 1}")
    srv.redirect("/to-other-port", f"http://127.0.0.1:{other_port}/good.rss")
    srv.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/iam/", status=307)
    srv.redirect("/to-ten", "http://10.1.2.3:8080/feed")
    srv.redirect("/to-file", "file:///etc/passwd")
    srv.static(
        "/latin1-as-utf8.rss",
        f"{RSS}; charset=utf-8",
        (REAL / "miniflux_encoding_ISO-8859-1.xml").read_bytes(),
    )
    srv.static(
        "/cp1251-as-latin1.rss",
        f"{RSS}; charset=iso-8859-1",
        (REAL / "miniflux_encoding_WINDOWS-1251.xml").read_bytes(),
    )
    urdu = (REAL / "miniflux_urdu_UTF8.xml").read_bytes()
    srv.static("/urdu.xml", "text/xml", urdu)
    srv.static("/urdu-bogus.xml", f"{RSS}; charset=x-no-such-charset", urdu)
    srv.static("/invalid-bytes.rss", f"{RSS}; charset=utf-8", _with_invalid_bytes(urdu))
    srv.static("/blog/", "text/html; charset=utf-8", _HTML_WITH_FEED)
    srv.static("/blog/feed.xml", RSS, GOOD_FEED.read_bytes())
    srv.static("/gone-blog/", "text/html; charset=utf-8", _HTML_WITH_FEED)
    srv.static(
        "/login",
        "text/html",
        (b"<!DOCTYPE html><html><body><form><input name=pw></form></body></html>"),
    )
    srv.static("/feed.json", "application/feed+json", _json_feed())
    srv.static(
        "/undefined-entity.rss",
        RSS,
        _rss(
            "<item><title>One</title><description>First</description></item>"
            "<item><title>Two</title><description>Second</description></item>",
            "<description>Teaching&nbsp;science</description>",
        ),
    )
    srv.static(
        "/tag-titles.xml",
        "application/xml",
        _rss(
            "<item><title>Teaching the &lt;canvas&gt; element</title><guid>t1</guid></item>"
            "<item><title>a&lt;b, c&gt;d</title><guid>t2</guid></item>"
            '<item><title type="text">History of the &lt;blink&gt; tag</title><guid>t3</guid></item>'
        ),
    )
    srv.static(
        "/bylines.rss",
        RSS,
        _rss(
            "<item><title>A</title><guid>b1</guid></item>"
            "<item><title>B</title><guid>b2</guid><author>ana@school.org (Ana Diaz)</author></item>",
            "<managingEditor>office@school.org</managingEditor>",
        ),
    )
    srv.static(
        "/empty-items.rss",
        RSS,
        _rss(
            "<item><guid isPermaLink='false'>e1</guid></item>"
            "<item><title>Real</title><guid isPermaLink='false'>e2</guid></item>"
        ),
    )


def _rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{channel}{items}</channel></rss>"
    ).encode()


# -- the run -------------------------------------------------------------------------


@dataclass
class Run:
    cases: dict[str, Case]
    outcomes: dict[str, FetchOutcome]
    statuses: dict[str, SourceStatus]
    posts: dict[str, list[Post]]
    seconds: float
    requested: list[str]
    other_requested: list[str]
    connects: list[Any]
    db_bytes: bytes
    integrity: str


def _config(tmp: Path, port: int, the_cases: dict[str, Case]) -> Path:
    sources = "".join(
        f'\n[[sources]]\nkey = "{key}"\nkind = "rss"\nurl = "{case.url}"\n'
        for key, case in the_cases.items()
    )
    path = tmp / "pln.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp / "pln.db"}"\n\n'
        f"[fetch]\ntimeout_seconds = {TIMEOUT_S}\nmax_body_bytes = {MAX_BODY}\n"
        f'max_redirects = 5\nallow_private = ["127.0.0.1:{port}"]\n{sources}'
    )
    return path


def _fake_dns(real: Any) -> Any:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == REBIND_LOOPBACK:
            return real("127.0.0.1", port, *args, **kwargs)
        if host == REBIND_PRIVATE:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    return getaddrinfo


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("hostile")
    marker_file = tmp / "secret.txt"
    marker_file.write_text(MARKER)
    connects: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            connects.append(address)
            if address[0] not in ("127.0.0.1", "::1"):
                raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    with HostileServer() as srv, HostileServer() as other, pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", recording_connect)
        mp.setattr(socket, "getaddrinfo", _fake_dns(socket.getaddrinfo))
        other.static("/good.rss", RSS, GOOD_FEED.read_bytes())
        serve(srv, other.port, marker_file)
        the_cases = cases(srv.base_url, other.port)
        started = time.monotonic()
        with build_app(load_config(_config(tmp, srv.port, the_cases))) as app:
            outcomes = {o.source_key: o for o in fetch_sources(app)}
            seconds = time.monotonic() - started
            statuses = {s.key: s for s in app.repo.source_statuses()}
            far = (
                datetime(1970, 1, 2, tzinfo=UTC),
                datetime.now(UTC) + timedelta(days=1),
            )
            posts = {key: app.repo.posts_for_digest([key], *far) for key in the_cases}
        with sqlite3.connect(tmp / "pln.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        yield Run(
            the_cases,
            outcomes,
            statuses,
            posts,
            seconds,
            list(srv.requested),
            list(other.requested),
            connects,
            (tmp / "pln.db").read_bytes(),
            integrity,
        )


# -- per case ------------------------------------------------------------------------

KEYS = list(cases("http://127.0.0.1:1", 2))


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in KEYS])
def test_each_source_ends_with_its_expected_record(run: Run, key: str) -> None:
    case, status, outcome = run.cases[key], run.statuses[key], run.outcomes[key]
    stored = run.posts[key]
    if case.error is None:
        assert outcome.error is None and outcome.problem == status.last_error
        if case.problem is None:
            assert status.last_error is None, status.last_error
        else:
            assert status.last_error and re.fullmatch(case.problem, status.last_error)
        assert status.consecutive_failures == 0 and status.last_success_at is not None
        assert stored, "a successful fetch of this case stores posts"
    else:
        assert status.last_error is not None and re.fullmatch(case.error, status.last_error), (
            status.last_error
        )
        assert outcome.error == status.last_error and "\n" not in status.last_error
        assert status.consecutive_failures == 1 and status.last_success_at is None
        assert stored == [] and status.is_active
    if case.posts is not None:
        assert len(stored) == case.posts
    titles = {p.title for p in stored}
    assert set(case.titles) <= titles, titles
    text = " ".join(f"{p.title} {p.text}" for p in stored)
    for word in case.words:
        assert word in text


def test_the_run_is_bounded_in_time(run: Run) -> None:
    # Slowest case: a drip cut at 3 x timeout_seconds (3.6 s); all run in
    # parallel. The margin is for a loaded CI machine; unbounded would be minutes.
    assert run.seconds < 3 * TIMEOUT_S + 12, run.seconds
    assert set(run.outcomes) == set(run.cases)


def test_the_good_source_is_stored_untouched(run: Run) -> None:
    expected = parse_feed(
        "good", GOOD_FEED.read_bytes(), RSS, run.cases["good"].url, datetime.now(UTC)
    )
    stored = {p.external_id: p for p in run.posts["good"]}
    assert sorted(stored) == sorted(p.external_id for p in expected)
    for post in expected:
        got = stored[post.external_id]
        assert (
            got.title,
            got.author,
            got.html,
            got.text,
            got.url,
            got.links,
            got.content_hash,
        ) == (
            post.title,
            post.author,
            post.html,
            post.text,
            post.url,
            post.links,
            post.content_hash,
        )
    assert run.statuses["good"].state.etag == '"good-v1"'


_FORBIDDEN = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"<script",
        r"<iframe",
        r"<object",
        r"<embed",
        r"<form",
        r"<input",
        r"<meta",
        r"<base",
        r"<link",
        r"<style",
        r"<svg",
        r"<math",
        r"\son[a-z]+\s*=",
        r"\sstyle\s*=",
        r"(?:javascript|vbscript|data):",
        r"<noscript",
    )
]


def _assert_safe(post: Post) -> None:
    for pattern in _FORBIDDEN:
        assert not pattern.search(post.html), (pattern.pattern, post.html)
    for tag in re.findall(r"<a\s[^>]*>", post.html):
        assert 'rel="noopener noreferrer"' in tag, tag
    for url in re.findall(r'\s(?:href|src)="([^"]*)"', post.html):
        assert url.startswith(("http://", "https://", "mailto:")), url
    for img in re.findall(r"<img\s[^>]*>", post.html):
        assert not re.search(r'(?:width|height)="[01](?:px)?"', img), img
        assert re.search(r'src="https?://', img), img
    # Titles and bylines are plain text, decoded (templates escape them).
    for name in (post.title or "", post.author):
        assert "&lt;" not in name and "&amp;" not in name, name
    assert "<" not in post.author and "@" not in post.author, post.author
    for url in (post.url, post.media_url, post.image_url, *post.links):
        assert not url or url.startswith(("http://", "https://")), url


def test_no_forbidden_construct_is_stored(run: Run) -> None:
    stored = [p for posts in run.posts.values() for p in posts]
    assert len(stored) > 50
    for post in stored:
        _assert_safe(post)


def test_markup_feed_keeps_safe_content(run: Run) -> None:
    by_id = {p.external_id: p for p in run.posts["markup-and-script-urls"]}
    first, second = by_id["m-0"], by_id["m-1"]
    # Written as text (escaped in the document), the title is kept as written.
    assert (first.title, first.author) == ("Hello <script>alert(1)</script> <b>bold</b>", "Ana")
    assert '<img src="https://cdn.example/photo.jpg" alt="ok">' in first.html
    # Relative to the document's URL: the feed's own address.
    link = run.cases["markup-and-script-urls"].url.replace("/markup.rss", "/rel/link")
    assert f'<a href="{link}" rel="noopener noreferrer">relative</a>' in first.html
    assert (
        "https://t.example/p.gif" not in first.html
        and "http://img.example/a.png" not in second.html
    )
    assert "kept text" in second.text and "hidden" not in second.text


def test_bylines_never_show_an_address(run: Run) -> None:
    authors = {p.title: p.author for p in run.posts["addresses-in-bylines"]}
    assert authors == {"A": "", "B": "Ana Diaz"}


def test_json_feed_1_1_is_read(run: Run) -> None:
    by_title = {p.title: p for p in run.posts["json-feed-1-1"]}
    html_post, text_post = by_title["Exit tickets"], by_title["Plain text post"]
    assert html_post.author == "Luis" and html_post.links == ("https://x.example/",)
    assert text_post.author == "Feed Author" and text_post.text == "<b>not bold</b> & friends"
    assert text_post.external_id == "2" and text_post.image_url is None
    assert text_post.media_url == "https://pln.example/a.mp3"


def test_nothing_was_fetched_or_read_that_must_not_be(run: Run) -> None:
    assert "/evil.dtd" not in run.requested and "/remote.dtd" not in run.requested
    assert run.other_requested == [], "a redirect reached a loopback port that is not allowed"
    reached = {address[0] for address in run.connects}
    assert reached <= {"127.0.0.1"}, reached  # never 169.254.169.254, 10.x
    assert MARKER.encode() not in run.db_bytes  # the local file never reached the database
    assert run.integrity == "ok"


def test_refused_addresses_are_refused_before_connecting(run: Run) -> None:
    for key in (
        "redirect-metadata-169-254",
        "url-metadata-169-254",
        "redirect-10-x",
        "url-10-x",
        "dns-name-to-10-x",
        "dns-name-to-loopback",
    ):
        assert "refused to connect" in (run.statuses[key].last_error or "")
    assert all(address[1] != 80 for address in run.connects)

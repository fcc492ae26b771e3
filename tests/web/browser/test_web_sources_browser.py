"""The sources pages in a real browser: adding a blog by its home page's address
with the keyboard alone, an OPML import, a rejected edit; axe on every page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from aggregator.app.config import load_config
from tests.web.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    SECRET,
    LiveServer,
    add_admin,
    serving,
    write_web_config,
)

DATA = Path(__file__).parent.parent.parent / "data"
BLOG_HOME = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Ms. Rivera teaches fourth grade</title>
<link rel="alternate" type="application/rss+xml" title="Ms. Rivera's class blog" href="/feed.xml">
</head><body><h1>Ms. Rivera teaches fourth grade</h1><p>Read-alouds and fractions.</p></body></html>"""


class _Blog(BaseHTTPRequestHandler):
    """A teacher's blog on this machine: a home page naming its feed, and the feed."""

    pages: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/": ("text/html; charset=utf-8", BLOG_HOME),
        "/feed.xml": ("application/rss+xml", (DATA / "discovery" / "ghost_rss.xml").read_bytes()),
    }

    def do_GET(self) -> None:
        kind, body = self.pages.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in self.pages else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def blog() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`pln serve` whose configuration lets it read the blog on this machine."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLN_WEB_SECRET", SECRET)
        extra = '\n[fetch]\nallow_private = ["127.0.0.1"]\n'
        config_path = write_web_config(tmp_path_factory.mktemp("sources"), extra=extra)
        add_admin(config_path)
        with serving(config_path) as server:
            yield server


def sign_in(page: Any, site: LiveServer) -> None:
    page.goto(f"{site.url}/admin/sign-in")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/admin/")


def tab_to(page: Any, text: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text, label or value contains `text`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return (e.innerText || '') + ' ' + (e.id || '') + ' ' + (e.value || ''); }"
        )
        if text in focused:
            return
    raise AssertionError(f"{text!r} cannot be reached with Tab")


def test_adding_a_blog_by_its_home_page_with_the_keyboard_alone(
    site: LiveServer, blog: str, page: Any, axe_check: Any
) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/admin/sources/")
    axe_check(page)
    tab_to(page, "Add a source")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/admin/sources/new")
    axe_check(page)

    tab_to(page, "url")
    page.keyboard.type(blog)
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "Use Ms. Rivera's class blog" in page.inner_text("main")
    axe_check(page)

    tab_to(page, "Use Ms. Rivera")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/sources/new\?kind=rss&"))
    assert page.get_by_label("url").input_value() == f"{blog}feed.xml"
    assert page.get_by_label("key").input_value() == "ms-rivera-s-class-blog"
    axe_check(page)
    tab_to(page, "Add the source")
    page.keyboard.press("Enter")

    page.wait_for_url(f"{site.url}/admin/sources/ms-rivera-s-class-blog")
    assert "Source ms-rivera-s-class-blog added" in page.get_by_role("status").inner_text()
    axe_check(page)
    source = load_config(site.config_path).source("ms-rivera-s-class-blog")
    assert source is not None and source.option("url") == f"{blog}feed.xml"

    page.get_by_role("button", name="Fetch now").click()
    assert "Fetched ms-rivera-s-class-blog: 1 new" in page.get_by_role("status").inner_text()
    assert "Last fetch 0 min ago; posts stored: 1." in page.inner_text("main")
    page.get_by_role("link", name="Remove…").click()
    axe_check(page)


def test_a_rejected_edit_shows_its_problem_beside_the_field(
    site: LiveServer, page: Any, axe_check: Any
) -> None:
    sign_in(page, site)
    before = site.config_path.read_bytes()
    page.goto(f"{site.url}/admin/sources/maths")
    page.get_by_label("url").fill("ftp://maths.example/rss")
    page.get_by_role("button", name="Save").click()

    assert "Not saved" in page.get_by_role("alert").inner_text()
    field = page.get_by_label("url")
    assert field.get_attribute("aria-invalid") == "true"
    assert "not an http(s) URL" in page.locator("#e-url").inner_text()
    assert site.config_path.read_bytes() == before
    axe_check(page)


def test_an_opml_import_from_a_feed_reader(site: LiveServer, page: Any, axe_check: Any) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/admin/sources/")
    page.get_by_label("OPML file").set_input_files(str(DATA / "opml" / "inoreader.xml"))
    page.get_by_role("button", name="Import").click()

    assert "4 sources added" in page.get_by_role("status").inner_text()
    axe_check(page)
    keys = {s.key for s in load_config(site.config_path).sources}
    assert {"math-love", "nsta-blog"} <= keys

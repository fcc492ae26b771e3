"""The recipients pages and the preview in a real browser: a roster import with
a bad line, a preview showing a post, a recipient added with the keyboard
alone, and axe on every page at phone and desktop width."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.app.config import load_config
from aggregator.app.wiring import build_app
from aggregator.domain.source import FetchResult
from tests.fakes import make_post
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, LiveServer

POST_TITLE = "Exit tickets that tell you what to teach tomorrow"


def sign_in(page: Any, server: LiveServer, path: str) -> None:
    page.goto(f"{server.url}{path}")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}{path}")


def tab_to(page: Any, element_id: str) -> None:
    """Press Tab until the element with `element_id` has the focus."""
    for _ in range(80):
        if page.evaluate("document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    pytest.fail(f"#{element_id} never got the focus with Tab")


def test_a_roster_import_shows_the_bad_line(
    live_server: LiveServer, page: Any, axe_check: Any, tmp_path: Path
) -> None:
    sign_in(page, live_server, "/admin/recipients/")
    assert "ana@school.org" in page.get_by_role("table").inner_text()
    axe_check(page)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email;name;follows\nzoe@school.org;Zoé;maths\nyan@school.org;Yan;physics\n",
        encoding="utf-8-sig",
    )
    page.get_by_label("CSV file to import").set_input_files(str(roster))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(f"{live_server.url}/admin/recipients/import")
    status = page.get_by_role("status").inner_text()
    assert "1 added, 0 updated, 0 unchanged, 1 row skipped" in status
    assert "Line 3: follows: unknown source 'physics'" in page.locator(".problems").inner_text()
    axe_check(page)
    page.get_by_role("link", name="Back to the recipients").click()
    assert "Zoé" in page.get_by_role("table").inner_text()


def test_a_preview_shows_a_post_of_the_recipient(
    live_server: LiveServer, page: Any, axe_check: Any
) -> None:
    with build_app(load_config(live_server.config_path), connectors={}) as app:
        now = app.clock()
        post = make_post("edu-blog", 1, at=now - timedelta(hours=2), title=POST_TITLE)
        app.repo.save_fetch("edu-blog", FetchResult((post,)), now, now + timedelta(hours=1))
    sign_in(page, live_server, "/admin/preview/")
    axe_check(page)
    page.get_by_label("Recipient").fill("ana@school.org")
    page.get_by_role("button", name="Show").click()
    frame = page.frame_locator("iframe.digest")
    frame.get_by_role(
        "link", name=POST_TITLE
    ).first.wait_for()  # the HTML digest, in its sandboxed frame
    assert POST_TITLE in page.get_by_role("table").inner_text()  # the explain table
    assert POST_TITLE in page.get_by_label("The digest as plain text").inner_text()
    axe_check(page)


def test_add_a_recipient_with_the_keyboard_alone(
    live_server: LiveServer, page: Any, axe_check: Any
) -> None:
    sign_in(page, live_server, "/admin/recipients/new")
    axe_check(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("body").focus()
    tab_to(page, "email")
    page.keyboard.type("kim@school.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Kim")
    tab_to(page, "send_at")
    page.keyboard.type("0715")
    tab_to(page, "follow-2")  # maths
    page.keyboard.press("Space")
    tab_to(page, "day-mon")
    page.keyboard.press("Space")
    tab_to(page, "mute")
    page.keyboard.type("webinar")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Add recipient"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/recipients/")
    assert "Saved kim@school.org." in page.get_by_role("status").inner_text()
    kim = load_config(live_server.config_path).recipient("kim@school.org")
    assert kim is not None
    assert (kim.name, kim.send_at, kim.follow, kim.days, kim.mute) == (
        "Kim",
        "07:15",
        ("maths",),
        ("mon",),
        ("webinar",),
    )
    page.goto(f"{live_server.url}/admin/recipients/edit?email=kim@school.org")
    axe_check(page)

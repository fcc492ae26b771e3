"""Signing in and out in a real browser, with the keyboard alone; axe on each page."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import ADMIN, ADMIN_PASSWORD, LiveServer


def test_sign_in_with_the_keyboard_alone_then_sign_out(
    live_server: LiveServer, page: Any, axe_check: Any
) -> None:
    page.goto(f"{live_server.url}/admin/")
    assert page.url.startswith(f"{live_server.url}/admin/sign-in")
    axe_check(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    # Tab from the top of the page: skip link, then the form's fields in order.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "PLN Digest admin"
    assert ADMIN in page.locator("header").inner_text()
    axe_check(page)
    page.get_by_role("navigation").get_by_role("link", name="Deliveries").click()
    page.wait_for_url(f"{live_server.url}/admin/deliveries")
    axe_check(page)

    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/sign-in")
    assert "You are signed out." in page.get_by_role("status").inner_text()
    page.goto(f"{live_server.url}/admin/")
    assert page.url.startswith(f"{live_server.url}/admin/sign-in")


def test_a_wrong_password_is_said_next_to_the_form(live_server: LiveServer, page: Any) -> None:
    page.goto(f"{live_server.url}/admin/sign-in")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "do not match" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Email").input_value() == ADMIN

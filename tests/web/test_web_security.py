"""The security rules of the web pages, request by request (CSRF on, real app)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
import pytest
from flask.testing import FlaskClient

from aggregator.app.admins import FAILURE_WINDOW, MAX_FAILURES
from aggregator.domain.errors import PLNError
from aggregator.run.web.app import CSP, create_app
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, SECRET, add_admin, sign_in, write_web_config


def cookie_header(response: Any, name: str = "pln_session") -> str:
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert found, response.headers
    return found[-1]


# -- headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/admin/sign-in", 200),
        ("GET", "/healthz", 200),
        ("GET", "/admin/", 302),
        ("GET", "/no/such/page", 404),
        ("POST", "/admin/sign-in", 400),  # no CSRF token
        ("DELETE", "/admin/sign-in", 405),
        ("GET", "/static/pln.css", 200),
    ],
)
def test_every_response_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    response.close()  # a static file's response holds the file open


def test_a_server_error_is_our_page_with_the_headers(
    web_app: flask.Flask, client: FlaskClient
) -> None:
    def broken() -> str:
        raise RuntimeError("boom <script>")

    web_app.add_url_rule("/broken", view_func=broken)
    response = client.get("/broken")
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"] == CSP
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body and "boom" not in body


def test_pages_have_no_inline_script_or_style(admin_client: FlaskClient) -> None:
    for path in ("/admin/sign-in", "/admin/"):
        body = admin_client.get(path).get_data(as_text=True)
        assert "<script" not in body and "style=" not in body and "<style" not in body


# -- CSRF ----------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused(web_config: Path, client: FlaskClient) -> None:
    add_admin(web_config)
    response = client.post("/admin/sign-in", data={"email": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not signed in


def test_a_post_with_an_altered_csrf_token_is_refused(
    web_config: Path, client: FlaskClient, csrf_token_of: Callable[[Any], str]
) -> None:
    add_admin(web_config)
    token = csrf_token_of(client.get("/admin/sign-in"))
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    data = {"email": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": altered}
    assert client.post("/admin/sign-in", data=data).status_code == 400
    assert client.get("/admin/").status_code == 302


def test_a_csrf_token_of_another_session_is_refused(
    web_app: flask.Flask, web_config: Path, csrf_token_of: Callable[[Any], str]
) -> None:
    add_admin(web_config)
    attacker, victim = web_app.test_client(), web_app.test_client()
    token = csrf_token_of(attacker.get("/admin/sign-in"))
    victim.get("/admin/sign-in")
    data = {"email": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token}
    assert victim.post("/admin/sign-in", data=data).status_code == 400


def test_sign_out_needs_the_csrf_token(admin_client: FlaskClient) -> None:
    assert admin_client.post("/admin/sign-out").status_code == 400
    assert admin_client.get("/admin/").status_code == 200  # still signed in


# -- the session cookie --------------------------------------------------------


def test_the_session_cookie_is_httponly_and_lax_and_not_secure_over_http(
    web_config: Path, client: FlaskClient
) -> None:
    add_admin(web_config)
    cookie = cookie_header(sign_in(client)).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.replace("samesite", "")


def test_the_session_cookie_is_secure_when_public_url_is_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLN_WEB_SECRET", SECRET)
    config = write_web_config(tmp_path, web='public_url = "https://digest.school.org"')
    add_admin(config)
    app = create_app(config, connectors={})
    try:
        cookie = cookie_header(sign_in(app.test_client())).lower()
    finally:
        app.extensions["pln_state"].close()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_a_new_session_at_sign_in_and_none_after_sign_out(
    web_config: Path, client: FlaskClient, csrf_token_of: Callable[[Any], str]
) -> None:
    add_admin(web_config)
    client.get("/admin/sign-in")
    planted = client.get_cookie("pln_session")
    assert sign_in(client).status_code == 302
    session_cookie = client.get_cookie("pln_session")
    assert session_cookie is not None and (planted is None or session_cookie.value != planted.value)

    home = client.get("/admin/")
    assert home.status_code == 200
    stolen = session_cookie.value
    response = client.post("/admin/sign-out", data={"csrf_token": csrf_token_of(home)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/sign-in")
    assert client.get("/admin/").status_code == 302
    # The cookie from before signing out signs nobody in any more.
    client.set_cookie("pln_session", stolen)
    assert client.get("/admin/").status_code == 302


def test_a_forged_session_cookie_signs_nobody_in(client: FlaskClient) -> None:
    client.set_cookie("pln_session", "eyJhZG1pbl90b2tlbiI6IngifQ.forged.signature")
    assert client.get("/admin/").status_code == 302


# -- sign-in -------------------------------------------------------------------


def test_unauthenticated_admin_urls_go_to_sign_in_and_come_back(
    web_config: Path, client: FlaskClient, csrf_token_of: Callable[[Any], str]
) -> None:
    add_admin(web_config)
    response = client.get("/admin/?tab=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/sign-in?next=/admin/?tab%3D1"
    form = client.get(response.headers["Location"])
    data = {
        "email": ADMIN,
        "password": ADMIN_PASSWORD,
        "csrf_token": csrf_token_of(form),
        "next": "/admin/?tab=1",
    }
    assert client.post("/admin/sign-in", data=data).headers["Location"] == "/admin/?tab=1"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_off_the_site(
    web_config: Path, client: FlaskClient, csrf_token_of: Callable[[Any], str], target: str
) -> None:
    add_admin(web_config)
    data = {
        "email": ADMIN,
        "password": ADMIN_PASSWORD,
        "csrf_token": csrf_token_of(client.get("/admin/sign-in")),
        "next": target,
    }
    assert client.post("/admin/sign-in", data=data).headers["Location"] == "/admin/"


def test_a_wrong_password_is_refused_and_slowed(
    web_config: Path, client: FlaskClient, slept: list[float]
) -> None:
    add_admin(web_config)
    first = sign_in(client, password="wrong password")
    second = sign_in(client, password="wrong again!")
    assert first.status_code == second.status_code == 401
    assert "do not match" in first.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert len(slept) == 2 and 0 < slept[0] < slept[1]


def test_an_unknown_account_is_refused_like_a_wrong_password(client: FlaskClient) -> None:
    response = sign_in(client, email="nobody@school.org")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)


def fail(client: FlaskClient, times: int, email: str = ADMIN) -> list[int]:
    return [sign_in(client, email=email, password="guess").status_code for _ in range(times)]


def test_ten_failures_for_an_account_refuse_it_with_429_even_from_elsewhere(
    web_config: Path, web_app: flask.Flask
) -> None:
    add_admin(web_config)
    attacker = web_app.test_client()
    assert fail(attacker, MAX_FAILURES) == [401] * MAX_FAILURES
    refused = sign_in(attacker)  # even the right password
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == FAILURE_WINDOW.total_seconds()
    assert "too many failed sign-ins" in refused.get_data(as_text=True)
    # The same account from another address is refused too.
    elsewhere = web_app.test_client()
    form = elsewhere.get("/admin/sign-in", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    data = {"email": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": csrf_token_from_page(form)}
    response = elsewhere.post(
        "/admin/sign-in", data=data, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert response.status_code == 429


def csrf_token_from_page(response: Any) -> str:
    from tests.web.conftest import csrf_token_from

    return csrf_token_from(response)


def test_ten_failures_from_an_address_refuse_it_for_every_account(
    web_config: Path, client: FlaskClient
) -> None:
    add_admin(web_config)
    statuses = [
        sign_in(client, email=f"guess{n}@school.org", password="guess").status_code
        for n in range(MAX_FAILURES)
    ]
    assert statuses == [401] * MAX_FAILURES
    assert sign_in(client).status_code == 429


def test_the_limit_is_kept_in_the_database_across_processes(
    web_config: Path, client: FlaskClient
) -> None:
    add_admin(web_config)
    fail(client, MAX_FAILURES)
    other_process = create_app(web_config, connectors={})
    try:
        assert sign_in(other_process.test_client()).status_code == 429
    finally:
        other_process.extensions["pln_state"].close()


def test_failures_older_than_the_window_no_longer_count(
    web_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes import FixedClock

    add_admin(web_config)
    clock = FixedClock()
    app = create_app(web_config, clock=clock, connectors={}, sleep=lambda s: None)
    try:
        client = app.test_client()
        fail(client, MAX_FAILURES)
        assert sign_in(client).status_code == 429
        clock.advance(seconds=FAILURE_WINDOW.total_seconds() + 1)
        assert sign_in(client).status_code == 302
    finally:
        app.extensions["pln_state"].close()


# -- escaping ------------------------------------------------------------------


def test_hostile_text_is_escaped_on_the_sign_in_page(client: FlaskClient) -> None:
    hostile = '"><script>alert(1)</script>@school.org'
    body = sign_in(client, email=hostile, password="x" * 12).get_data(as_text=True)
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_hostile_admin_address_is_escaped_in_the_header(
    web_config: Path, client: FlaskClient
) -> None:
    hostile = "o'brien+<b>x</b>@school.org"
    with pytest.raises(PLNError, match="before the @"):  # not an address: refused
        add_admin(web_config, email=hostile)
    add_admin(web_config, email="o'brien+pln@school.org")
    assert sign_in(client, email="o'brien+pln@school.org").status_code == 302
    body = client.get("/admin/").get_data(as_text=True)
    assert "o&#39;brien+pln@school.org" in body


def test_a_hostile_next_value_is_escaped_in_the_form(client: FlaskClient) -> None:
    body = client.get('/admin/sign-in?next=/admin/"><script>x</script>').get_data(as_text=True)
    assert "<script>x</script>" not in body

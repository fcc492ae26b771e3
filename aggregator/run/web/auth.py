"""Signing admins in and out, and the guard on every admin page.

The session cookie (signed with `[web] secret_env`) holds a random token;
`aggregator.app.admins` keeps its hash, so signing out ends it for good.
The session is emptied before a new token goes in, so a session planted
before sign-in (fixation) carries nothing over.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import flask
from werkzeug.wrappers.response import Response as WerkzeugResponse

from aggregator.app.admins import SignInRefused, session_admin, sign_in, sign_out
from aggregator.domain.errors import PLNError
from aggregator.run.web.context import web_state

bp = flask.Blueprint("auth", __name__)

P = ParamSpec("P")
R = TypeVar("R")
_TOKEN = "admin_token"
_SLEEP = "pln_sleep"


def current_admin() -> str | None:
    """The signed-in admin's address, or None (looked up once per request)."""
    if "pln_admin" not in flask.g:
        token = flask.session.get(_TOKEN)
        admin = session_admin(web_state().app, token) if isinstance(token, str) else None
        flask.g.pln_admin = admin
    admin = flask.g.pln_admin
    return admin if isinstance(admin, str) else None


def admin_required(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
    """Only a signed-in admin sees `view`; anyone else is sent to the sign-in page."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
        if current_admin() is None:
            target = flask.url_for("auth.sign_in_form", next=flask.request.full_path.rstrip("?"))
            return flask.redirect(target)
        return view(*args, **kwargs)

    return guarded


def set_sleep(app: flask.Flask, sleep: Callable[[float], None]) -> None:
    """How the app waits after a failed sign-in (tests pass one that only records)."""
    app.extensions[_SLEEP] = sleep


@bp.get("/admin/sign-in")
def sign_in_form() -> str:
    """The sign-in form."""
    return flask.render_template("web/sign_in.j2", email="", error="", next=_next_page())


@bp.post("/admin/sign-in")
def sign_in_submit() -> WerkzeugResponse | tuple[str, int, dict[str, str]]:
    """Check the password; on success a fresh session and the page asked for."""
    email = flask.request.form.get("email", "").strip()
    password = flask.request.form.get("password", "")
    sleep = flask.current_app.extensions.get(_SLEEP, time.sleep)
    client = flask.request.remote_addr or "unknown"
    try:
        signed_in = sign_in(web_state().app, email, password, client, sleep)
    except SignInRefused as refused:
        page = flask.render_template(
            "web/sign_in.j2", email=email, error=str(refused) + ".", next=_next_page()
        )
        return page, 429, {"Retry-After": str(_seconds(refused.retry_after))}
    if signed_in is None:
        error = "That email and password do not match an admin account."
        page = flask.render_template("web/sign_in.j2", email=email, error=error, next=_next_page())
        return page, 401, {}
    flask.session.clear()
    flask.session.permanent = True
    flask.session[_TOKEN] = signed_in.token
    return flask.redirect(_next_page())


@bp.post("/admin/sign-out")
def sign_out_submit() -> WerkzeugResponse:
    """End the session, here and in the database."""
    token = flask.session.get(_TOKEN)
    if isinstance(token, str):
        sign_out(web_state().app, token)
    flask.session.clear()
    flask.flash("You are signed out.")
    return flask.redirect(flask.url_for("auth.sign_in_form"))


def _next_page() -> str:
    """Where to go after signing in: a page of this site only (no open redirect)."""
    wanted = flask.request.values.get("next", "")
    parts = urlsplit(wanted)
    if (
        wanted.startswith("/")
        and not wanted.startswith("//")
        and not parts.netloc
        and "\\" not in wanted
    ):
        return wanted
    return flask.url_for("admin_home.index")


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def signed_in_admin() -> str | None:
    """`current_admin()` for templates: None when it cannot be known (the
    database is down and this is the error page saying so)."""
    try:
        return current_admin()
    except PLNError:
        return None


def template_globals() -> dict[str, object]:
    """What every template may call."""
    return {"signed_in_admin": signed_in_admin}

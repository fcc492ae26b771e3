"""`create_app`: the Flask app of `pln serve`, its security rules and its pages.

Every response carries the Content-Security-Policy (no inline script or
style), nosniff and no-referrer; every POST carries a CSRF token
(Flask-WTF); templates are autoescaped, whatever their file name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import flask
from flask_wtf.csrf import CSRFError
from jinja2 import PackageLoader
from werkzeug.exceptions import HTTPException, InternalServerError

from aggregator.app import metrics
from aggregator.app.config import load_config
from aggregator.app.wiring import App, build_app
from aggregator.config.types import Config, WebConfig
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.errors import PLNError
from aggregator.run.web import (
    admin_deliveries,
    admin_feedback,
    admin_home,
    admin_preview,
    admin_recipients,
    admin_sources,
    auth,
    health,
    teacher,
    teacher_manage,
)
from aggregator.run.web.context import StateHolder, install
from aggregator.run.web.csrf import csrf
from connectors.base import Connector

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SESSION_HOURS = 12
# The page groups, one blueprint module each.
BLUEPRINTS = (
    health.bp,
    auth.bp,
    admin_home.bp,
    admin_sources.bp,
    admin_recipients.bp,
    admin_preview.bp,
    admin_deliveries.bp,
    admin_feedback.bp,
    teacher.bp,
    teacher_manage.bp,
)
_TEMPLATES = "digests.templates"


def create_app(
    config_path: Path | str,
    *,
    clock: Clock = utc_now,
    connectors: Mapping[str, Connector] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> flask.Flask:
    """The web app for the configuration at `config_path`.

    The file is read again when it changes. `clock` and `connectors` go to
    the `App` (tests pass fixed and fake ones); `sleep` is how a failed
    sign-in is slowed down. Raises ConfigError when the
    file has problems, PLNError when `[web] secret_env` is missing.
    """
    config = load_config(config_path)
    metrics.enable()  # this process's counts, and its scrape of the others' (multiprocess)
    static = files(_TEMPLATES) / "web" / "static"
    app = flask.Flask(__name__, static_folder=str(static), static_url_path="/static")
    app.jinja_loader = PackageLoader(_TEMPLATES, ".")
    app.select_jinja_autoescape = lambda filename: True  # type: ignore[method-assign]
    app.config.update(_flask_settings(config.web))

    def build(loaded: Config) -> App:
        return build_app(loaded, clock, connectors)

    install(app, StateHolder(Path(config_path), build))
    csrf.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(PLNError, _pln_error)
    app.context_processor(lambda: {**auth.template_globals(), "admin_nav": admin_home.admin_nav})
    auth.set_sleep(app, sleep)
    return app


def _flask_settings(web: WebConfig) -> dict[str, object]:
    """Flask's settings from `[web]`: the signing secret and the cookie rules."""
    if web.secret is None:
        name = web.secret_env or "PLN_WEB_SECRET"
        raise PLNError(
            f"the web pages need a secret to sign sessions and links: set [web] "
            f'secret_env = "{name}" and the environment variable {name} '
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return {
        "SECRET_KEY": web.secret.reveal(),
        "SESSION_COOKIE_NAME": "pln_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": web.is_https,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=SESSION_HOURS),
        # The token lives as long as the session: a form left open an hour still posts.
        "WTF_CSRF_TIME_LIMIT": None,
        # Flask-WTF's https check wants a Referer, which Referrer-Policy:
        # no-referrer withholds; SameSite=Lax cookies plus the token suffice.
        "WTF_CSRF_SSL_STRICT": False,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    }


def _security_headers(response: flask.Response) -> flask.Response:
    """The same headers on every response, error pages included. A view may
    set a stricter Content-Security-Policy of its own (an archived email's
    inline styles, with no script at all); every other response gets `CSP`."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _http_error(error: HTTPException) -> tuple[str, int]:
    """An HTTP error as a page of ours (CSRF failures say what to do)."""
    code = error.code or 500
    if isinstance(error, CSRFError):
        message = "This form expired or did not come from this site: go back, reload and try again."
    elif isinstance(error, InternalServerError):
        log.error("internal error: %s", error.original_exception or error)
        message = "Something went wrong on our side; the log has the details."
    else:
        message = error.description or ""
    return flask.render_template("web/error.j2", code=code, title=error.name, message=message), code


def _pln_error(error: PLNError) -> tuple[str, int]:
    """A configuration or database problem: the log says which, the page says
    only that the service is unavailable (the details are not the visitor's)."""
    log.error("web: %s", error)
    message = "The service is not available right now; its admin will find why in the log."
    page = flask.render_template(
        "web/error.j2", code=503, title="Service unavailable", message=message
    )
    return page, 503

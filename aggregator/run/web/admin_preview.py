"""`/admin/preview…`: any recipient's digest for any day, as HTML and text,
with the explain table of `pln digest --explain` beside it.

The HTML digest is its own document, shown in a sandboxed frame and served
with `Content-Security-Policy: sandbox`: its content came from feeds, so it
runs no script and reaches nothing of the admin pages even if the
sanitiser missed something.
"""

from __future__ import annotations

from datetime import date

import flask

from aggregator.app.preview import Preview, default_day, preview_digest
from aggregator.domain.errors import PLNError, StorageError
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import web_state

bp = flask.Blueprint("admin_preview", __name__, url_prefix="/admin/preview")

DIGEST_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
"""The digest document's own policy: the inline styles an email carries, its
pictures, no script, and framed by our preview page only."""


class _BadRequest(Exception):
    """The preview asked for cannot be built; the message says why."""


class _NoRecipient(_BadRequest):
    """No recipient has the address asked for."""


@bp.get("/")
@admin_required
def index() -> tuple[str, int]:
    """The form (recipient and day) and, once one is chosen, the preview."""
    state = web_state()
    email = flask.request.args.get("email", "").strip()
    preview, error, status = None, "", 200
    day_text = flask.request.args.get("day", "").strip()
    if email:
        try:
            preview = _preview(email, day_text)
            day_text = preview.day.isoformat()
        except _BadRequest as exc:
            error, status = str(exc), 404 if isinstance(exc, _NoRecipient) else 400
    return flask.render_template(
        "web/admin_preview.j2",
        recipients=state.config.recipients,
        email=email,
        day=day_text,
        preview=preview,
        error=error,
    ), status


@bp.get("/digest.html")
@admin_required
def digest_document() -> flask.Response:
    """The HTML digest alone, as the preview's frame shows it."""
    try:
        preview = _preview(flask.request.args.get("email", ""), flask.request.args.get("day", ""))
    except _BadRequest as exc:
        flask.abort(404, str(exc))
    response = flask.Response(preview.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DIGEST_CSP
    return response


def _preview(email: str, day_text: str) -> Preview:
    """The preview of `email` for the ISO day `day_text` (empty: their next digest)."""
    state = web_state()
    recipient = state.config.recipient(email)
    if recipient is None:
        raise _NoRecipient(f"There is no recipient {email}: pick one from the list.")
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise _BadRequest("The day must be a date like 2026-12-01.") from None
    if day is None:
        day = default_day(recipient, state.app.clock())
    try:
        return preview_digest(state.app, recipient.email, day)
    except StorageError:
        raise  # the service's trouble, not the request's: the error page says so
    except PLNError as exc:
        raise _BadRequest(f"No preview: {exc}.") from exc

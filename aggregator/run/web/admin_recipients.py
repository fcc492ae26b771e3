"""`/admin/recipients…`: who gets a digest — list, add, edit, remove, CSV roster.

Every change is a config edit (`aggregator.app.config_edit`): checked by
the rules of `pln check`, written atomically, and refused when config.toml
changed since the page was shown (the page carries the file's fingerprint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

import flask

from aggregator.app.config_edit import (
    ConfigEdit,
    ConfigEditError,
    EditRejected,
)
from aggregator.app.recipient_status import RecipientStatus, recipient_statuses
from aggregator.app.roster import (
    MAX_ROSTER_BYTES,
    ROSTER_ENCODING,
    RosterRefused,
    export_roster,
    import_roster,
)
from aggregator.config.entries import WEEKDAYS
from aggregator.domain.recipient import RecipientConfig
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import Page, config_fingerprint, web_state
from aggregator.run.web.recipient_form import RecipientForm

bp = flask.Blueprint("admin_recipients", __name__, url_prefix="/admin/recipients")

PAGE_SIZE = 200
"""Recipients a page of the list shows: a school district's thousands stay
quick to load and to read, with the search box to find one."""
_ZONES = tuple(sorted(available_timezones()))


@dataclass(frozen=True, slots=True)
class _Row:
    """One line of the list, as text: thousands of them render in a blink."""

    address: str
    name: str
    sends: str
    follows: str
    state: str
    last: str
    next_send: str
    choices: str
    query: str
    """`email=...` for the edit and preview links."""


def _row(status: RecipientStatus) -> _Row:
    r, latest = status.recipient, status.latest
    next_send = "none planned"
    if status.next_at is not None:
        local = status.next_at.astimezone(ZoneInfo(r.timezone))
        next_send = local.strftime("%a %Y-%m-%d %H:%M")
    return _Row(
        address=r.to_address,
        name=r.name,
        sends=f"{r.send_at} {r.timezone}",
        follows=", ".join(r.follow) or "nothing",
        state=latest.status.value if latest else "",
        last=latest.local_day.isoformat() if latest else "none yet",
        next_send=next_send,
        choices=status.choices,
        query=urlencode({"email": r.email}),
    )


def _config_path() -> Path:
    return Path(web_state().config.path)


@bp.get("/")
@admin_required
def index() -> str:
    """Every recipient with their latest delivery and next send, the add link,
    and the roster's import and export."""
    state = web_state()
    query = flask.request.args.get("q", "").strip()
    matching = _matching(state.config.recipients, query.lower())
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(max(_page_number(flask.request.args.get("page", "")), 1), pages)
    shown = matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return flask.render_template(
        "web/admin_recipients.j2",
        rows=[_row(status) for status in recipient_statuses(state.app, shown)],
        total=len(state.config.recipients),
        matching=len(matching),
        first=(page - 1) * PAGE_SIZE + 1,
        query=query,
        page=page,
        pages=pages,
        fingerprint=config_fingerprint(),
        edit_url=flask.url_for(".edit_form"),
        preview_url=flask.url_for("admin_preview.index"),
    )


def _matching(recipients: Sequence[RecipientConfig], query: str) -> list[RecipientConfig]:
    """The recipients whose address, name or follows contain `query` (lower case)."""
    if not query:
        return list(recipients)
    return [
        r
        for r in recipients
        if query in r.email or query in r.name.lower() or any(query in key for key in r.follow)
    ]


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 6 else 1


@bp.get("/new")
@admin_required
def new_form() -> tuple[str, int]:
    """An empty form for a new recipient."""
    return _form_page(RecipientForm(), editing=False)


@bp.post("/new")
@admin_required
def create() -> Page:
    """Add the recipient, or show the form again with what to fix."""
    form = RecipientForm.posted(flask.request.form)
    return _save(form, editing=False)


@bp.get("/edit")
@admin_required
def edit_form() -> Page:
    """The form of an existing recipient (`?email=`)."""
    recipient = web_state().config.recipient(flask.request.args.get("email", ""))
    if recipient is None:
        flask.abort(404, "No such recipient: it may have just been removed.")
    return _form_page(RecipientForm.of(recipient), editing=True)


@bp.post("/edit")
@admin_required
def update() -> Page:
    """Save the changes to an existing recipient."""
    form = RecipientForm.posted(flask.request.form)
    return _save(form, editing=True)


@bp.post("/remove")
@admin_required
def remove() -> Page:
    """Remove a recipient from config.toml (their history stays in the database)."""
    email = flask.request.form.get("email", "")
    try:
        edit = ConfigEdit.open(_config_path(), expected=flask.request.form.get("fingerprint"))
        edit.remove("recipients", email)
        edit.save()
    except ConfigEditError as exc:
        flask.flash(f"Not removed: {exc}")
        return flask.redirect(flask.url_for(".index"))
    flask.flash(f"Removed {email} from the recipients.")
    return flask.redirect(flask.url_for(".index"))


def _save(form: RecipientForm, *, editing: bool) -> Page:
    values = form.values()
    if form.problems:
        return _form_page(form, editing=editing, status=400)
    try:
        edit = ConfigEdit.open(_config_path(), expected=flask.request.form.get("fingerprint"))
        if editing:
            del values["email"]  # the address is who they are: remove and add to change it
            edit.update("recipients", form.email, values)
        else:
            edit.add("recipients", values)
        edit.save()
    except EditRejected as exc:
        return _form_page(form.with_problems(exc.problems), editing=editing, status=400)
    except ConfigEditError as exc:
        return _form_page(form.with_problems({"": [str(exc)]}), editing=editing, status=409)
    flask.flash(f"Saved {form.email}.")
    return flask.redirect(flask.url_for(".index"))


def _form_page(form: RecipientForm, *, editing: bool, status: int = 200) -> tuple[str, int]:
    config = web_state().config
    page = flask.render_template(
        "web/admin_recipient_form.j2",
        form=form,
        editing=editing,
        sources=config.sources,
        weekdays=WEEKDAYS,
        zones=_ZONES,
        fingerprint=config_fingerprint(),
    )
    return page, status


@bp.post("/import")
@admin_required
def import_csv() -> tuple[str, int]:
    """Import a CSV roster: the good rows are added, each bad one is listed."""
    upload = flask.request.files.get("roster")
    if upload is None or not upload.filename:
        return _import_page(error="Choose a CSV file to import.", status=400)
    data = upload.stream.read(MAX_ROSTER_BYTES + 1)  # enough to tell it is too big
    update = flask.request.form.get("update") == "yes"
    try:
        done = import_roster(
            _config_path(), data, update=update, expected=flask.request.form.get("fingerprint")
        )
    except RosterRefused as exc:
        return _import_page(error=f"Nothing was imported: {exc}.", status=400)
    except ConfigEditError as exc:
        return _import_page(error=f"Nothing was imported: {exc}", status=409)
    return _import_page(plan=done.plan, filename=upload.filename)


def _import_page(status: int = 200, **context: object) -> tuple[str, int]:
    return flask.render_template("web/admin_recipients_import.j2", **context), status


@bp.get("/roster.csv")
@admin_required
def export_csv() -> flask.Response:
    """The recipients as a CSV roster, for a spreadsheet (UTF-8 with a BOM)."""
    text = export_roster(web_state().config.recipients)
    response = flask.Response(text.encode(ROSTER_ENCODING), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="recipients.csv"'
    return response

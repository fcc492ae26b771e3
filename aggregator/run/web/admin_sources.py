"""`/admin/sources…`: the sources, their health, and every edit of them.

Each edit is a config edit (`aggregator.app.source_admin`): checked by the
rules of `pln check` before anything is written (a refused edit shows its
problems next to the fields), written atomically, and refused when
config.toml changed since the page was loaded (the page carries the file's
fingerprint). Adding starts from a pasted address (feed discovery) or from
a kind, whose fields come from the connectors' REGISTRY.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import flask
from werkzeug.wrappers import Response

from aggregator.app.config_edit import (
    ConfigEdit,
    ConfigEditError,
    EditRejected,
    StaleConfig,
)
from aggregator.app.ingest import fetch_sources
from aggregator.app.opml import MAX_OPML_BYTES, OpmlError, export_opml, import_opml
from aggregator.app.source_admin import (
    COMMON_FIELDS,
    SourceView,
    add_source,
    kind_forms,
    next_fetch,
    propose_sources,
    remove_source,
    set_paused,
    source_views,
    suggested_key,
    update_source,
)
from aggregator.domain.errors import SourceError
from aggregator.domain.source import SourceConfig
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import Page, config_fingerprint, web_state
from connectors.rss.discover import Proposal

bp = flask.Blueprint("admin_sources", __name__, url_prefix="/admin/sources")


def _source_or_404(key: str) -> SourceConfig:
    source = web_state().config.source(key)
    if source is None:
        flask.abort(404, description=f"There is no source {key!r} (any more).")
    return source


@bp.get("/")
@admin_required
def index() -> str:
    """Every source with its health, and the ways to add more."""
    state = web_state()
    now = state.app.clock()
    # Keys are URL-safe (letters, digits, - and _): one url_for, not one per row.
    base = flask.url_for("admin_sources.edit", key="-").removesuffix("-")
    rows = [_row(view, now, base) for view in source_views(state.app)]
    return flask.render_template(
        "web/sources.j2",
        rows=rows,
        fingerprint=config_fingerprint(),
        max_mb=MAX_OPML_BYTES // 10**6,
    )


class _Row(NamedTuple):
    """One row of the sources table, as text (a tuple: the fastest for Jinja to read)."""

    href: str
    title: str
    network: str
    kind: str
    target: str
    last_fetch: str
    health: str
    css: str
    posts_a_day: str
    next_fetch: str


def _row(view: SourceView, now: datetime, base: str) -> _Row:
    """One table row, formatted here so the template only prints."""
    status, source = view.status, view.source
    if source.paused:
        health, css = "paused", "state-unknown"
    elif view.is_failing and status is not None:
        health, css = (
            f"failing ({status.consecutive_failures}×): {status.last_error}",
            "state-failed",
        )
    elif view.is_stale:
        health, css = "stale: no new post lately", "state-unknown"
    elif status is None or status.last_attempt_at is None:
        health, css = "not fetched yet", ""
    else:
        health, css = "ok", "state-sent"
    return _Row(
        href=base + source.key,
        title=source.title,
        network=view.network,
        kind=source.kind,
        target=view.target,
        last_fetch=_ago(status.last_attempt_at if status else None, now),
        health=health,
        css=css,
        posts_a_day=f"{view.posts_a_day:g}",
        next_fetch=_until(next_fetch(view, now), now),
    )


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{_span(now - moment)} ago"


def _until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    return "due now" if moment <= now else f"in {_span(moment - now)}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


# --- adding ----------------------------------------------------------------------


@bp.get("/new")
@admin_required
def new() -> str | tuple[str, int]:
    """Paste an address (discovery proposes sources), or pick a kind and fill its form."""
    args = flask.request.args
    kind = args.get("kind", "")
    if kind in kind_forms():
        values = {name: args.get(name, "") for name in args}
        taken = {s.key for s in web_state().config.sources}
        target = next((v for n, v in values.items() if n not in ("kind", "name")), "")
        values.setdefault("key", "")
        values["key"] = values["key"] or suggested_key(values.get("name", ""), target, taken)
        return _form(kind, values, {}, editing=None)
    url = args.get("url", "").strip()
    if not url:
        return _add_page("", [], "")
    try:
        proposals = propose_sources(web_state().config, url)
    except ValueError as exc:
        return _add_page(url, [], f"{exc}: paste a web address starting with https://"), 422
    except SourceError as exc:
        return _add_page(url, [], f"That page could not be read: {exc.message}"), 422
    if not proposals:
        message = "No feed found at that address. Paste the feed's own address, or pick a kind."
        return _add_page(url, [], message)
    return _add_page(url, proposals, "")


def _add_page(url: str, proposals: list[Proposal], error: str) -> str:
    forms = kind_forms()
    return flask.render_template(
        "web/source_add.j2",
        url=url,
        proposals=[_proposal_link(p) for p in proposals],
        error=error,
        kinds=[(form.kind, form.network) for form in forms.values()],
    )


def _proposal_link(proposal: Proposal) -> dict[str, str]:
    query: dict[str, Any] = {"kind": proposal.kind, "name": proposal.name, **dict(proposal.options)}
    return {
        "href": flask.url_for("admin_sources.new", **query),
        "kind": proposal.kind,
        "name": proposal.name,
        "target": " · ".join(value for _, value in proposal.options),
        "found": proposal.found,
    }


@bp.post("/new")
@admin_required
def create() -> Page:
    """Add the source the form describes."""
    form = flask.request.form
    kind = form.get("kind", "")
    if kind not in kind_forms():
        flask.abort(400, description="Pick a kind of source first.")
    try:
        key = add_source(web_state().config.path, kind, form, form.get("fingerprint", ""))
    except EditRejected as exc:
        return _form(kind, form, exc.problems, editing=None), 422
    except ConfigEditError as exc:
        return _form(kind, form, {"": [str(exc)]}, editing=None), _status_of(exc)
    flask.flash(f"Source {key} added; it is fetched within a minute.")
    return flask.redirect(flask.url_for("admin_sources.edit", key=key))


def _status_of(error: ConfigEditError) -> int:
    return 409 if isinstance(error, StaleConfig) else 422


def _form(
    kind: str,
    values: Mapping[str, str],
    problems: Mapping[str, list[str]],
    *,
    editing: SourceConfig | None,
) -> str:
    form = kind_forms()[kind]
    fields = [f for f in COMMON_FIELDS if not (editing and f.name == "key")] + list(form.fields)
    known = {f.name for f in fields}
    return flask.render_template(
        "web/source_form.j2",
        kind=form,
        fields=fields,
        values=values,
        problems=problems,
        general=[m for name, ms in problems.items() if name not in known for m in ms],
        source=editing,
        health=_health_line(editing.key) if editing else "",
        fingerprint=values.get("fingerprint") or config_fingerprint(),
    )


# --- one source ------------------------------------------------------------------


@bp.get("/<key>")
@admin_required
def edit(key: str) -> str:
    """A source's form, and its pause, fetch-now and remove buttons."""
    source = _source_or_404(key)
    values = {"name": source.name, "interval_minutes": str(source.interval_minutes or "")}
    values |= dict(source.options)
    return _form(source.kind, values, {}, editing=source)


def _health_line(key: str) -> str:
    """The source's last fetch and error, in one line for its page."""
    state = web_state()
    statuses = state.app.repo.source_statuses([key])
    if not statuses or statuses[0].last_attempt_at is None:
        return "Not fetched yet."
    status, now = statuses[0], state.app.clock()
    line = f"Last fetch {_ago(status.last_attempt_at, now)}; posts stored: {status.posts_stored}."
    if status.last_error:
        line += f" Last error: {status.last_error}"
    return line


@bp.post("/<key>")
@admin_required
def save(key: str) -> Page:
    """Save the edited form."""
    source = _source_or_404(key)
    form = flask.request.form
    try:
        update_source(web_state().config.path, key, form, form.get("fingerprint", ""))
    except EditRejected as exc:
        return _form(source.kind, form, exc.problems, editing=source), 422
    except ConfigEditError as exc:
        return _form(source.kind, form, {"": [str(exc)]}, editing=source), _status_of(exc)
    flask.flash(f"Source {key} saved.")
    return flask.redirect(flask.url_for("admin_sources.edit", key=key))


@bp.post("/<key>/pause")
@admin_required
def pause(key: str) -> Response:
    """Pause the source, or resume it."""
    source = _source_or_404(key)
    fingerprint = flask.request.form.get("fingerprint", "")
    try:
        set_paused(web_state().config.path, key, not source.paused, fingerprint)
    except ConfigEditError as exc:
        flask.flash(str(exc))
    else:
        flask.flash(f"Source {key} {'resumed' if source.paused else 'paused'}.")
    return flask.redirect(flask.url_for("admin_sources.edit", key=key))


@bp.post("/<key>/fetch")
@admin_required
def fetch_now(key: str) -> Response:
    """Fetch the source now, whether due or not."""
    _source_or_404(key)
    (outcome,) = fetch_sources(web_state().app, [key])
    if outcome.error:
        flask.flash(f"Fetching {key} failed: {outcome.error}")
    elif outcome.skipped:
        flask.flash(f"{key} was not fetched: {outcome.skipped}")
    else:
        flask.flash(f"Fetched {key}: {outcome.new_posts} new, {outcome.updated_posts} updated.")
    return flask.redirect(flask.url_for("admin_sources.edit", key=key))


@bp.get("/<key>/remove")
@admin_required
def confirm_remove(key: str) -> str:
    """Ask before removing: who follows it."""
    source = _source_or_404(key)
    followers = [r.to_address for r in web_state().config.recipients if key in r.follow]
    return flask.render_template(
        "web/source_remove.j2", source=source, followers=followers, fingerprint=config_fingerprint()
    )


@bp.post("/<key>/remove")
@admin_required
def remove(key: str) -> Response:
    """Remove the source; its followers stop following it; its posts stay."""
    _source_or_404(key)
    try:
        unfollowed = remove_source(
            web_state().config.path, key, flask.request.form.get("fingerprint", "")
        )
    except ConfigEditError as exc:
        flask.flash(str(exc))
        return flask.redirect(flask.url_for("admin_sources.confirm_remove", key=key))
    followers = f"; {len(unfollowed)} recipients no longer follow it" if unfollowed else ""
    flask.flash(f"Source {key} removed{followers}.")
    return flask.redirect(flask.url_for("admin_sources.index"))


# --- OPML ------------------------------------------------------------------------


@bp.get("/opml")
@admin_required
def opml_export() -> Response:
    """The rss sources as an OPML file to download."""
    state = web_state()
    body = export_opml(state.config, state.app.clock())
    response = flask.make_response(body)
    response.headers["Content-Type"] = "text/x-opml; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="pln-digest-sources.opml"'
    return response


@bp.post("/opml")
@admin_required
def opml_import() -> Page:
    """Add the feeds of an uploaded OPML file; show what was added and skipped."""
    upload = flask.request.files.get("opml")
    if upload is None or not upload.filename:
        return _opml_result([], ["Choose an OPML file to import."]), 422
    data = upload.stream.read(MAX_OPML_BYTES + 1)
    try:
        edit = ConfigEdit.open(
            web_state().config.path, expected=flask.request.form.get("fingerprint")
        )
        report = import_opml(edit, data)
    except (OpmlError, ConfigEditError) as exc:
        return _opml_result([], [str(exc)], refused=True), _opml_status(exc)
    return _opml_result(report.added, report.problems)


def _opml_status(error: Exception) -> int:
    return 409 if isinstance(error, StaleConfig) else 422


def _opml_result(added: list[str], problems: list[str], *, refused: bool = False) -> str:
    return flask.render_template(
        "web/sources_opml.j2", added=added, problems=problems, refused=refused
    )

"""`/admin/`: the admin's home, and the navigation every admin page shows.

`NAV` lists the admin pages in menu order by endpoint; an entry shows once
its blueprint is registered, so each page group adds itself by existing.
The home says what needs attention: failing and stale sources, and the
latest deliveries that failed, wait for a retry or may not have arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import flask

from aggregator.app.source_admin import source_views
from aggregator.domain.delivery import DeliveryState
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import web_state

bp = flask.Blueprint("admin_home", __name__)

NAV: tuple[tuple[str, str], ...] = (
    ("admin_home.index", "Home"),
    ("admin_sources.index", "Sources"),
    ("admin_recipients.index", "Recipients"),
    ("admin_preview.index", "Preview"),
    ("admin_deliveries.index", "Deliveries"),
    ("admin_feedback.index", "Teachers' feedback"),
)
_TROUBLE = (DeliveryState.FAILED, DeliveryState.RETRY, DeliveryState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Attention:
    """One thing to look at: what (a source's name, a recipient), and why."""

    what: str
    why: str


def admin_nav() -> list[tuple[str, str]]:
    """(URL, label) of each admin page this app serves, in menu order."""
    views = flask.current_app.view_functions
    return [(flask.url_for(endpoint), label) for endpoint, label in NAV if endpoint in views]


@bp.get("/admin/")
@admin_required
def index() -> str:
    """What is configured, and what needs attention, at a glance."""
    state = web_state()
    sources = source_views(state.app)
    failing = [
        Attention(v.source.name or v.source.key, (v.status.last_error if v.status else "") or "")
        for v in sources
        if v.is_failing
    ]
    stale = [
        Attention(v.source.name or v.source.key, "nothing new lately")
        for v in sources
        if v.is_stale
    ]
    deliveries = [
        Attention(d.email, f"{d.local_day}: {d.status}")
        for d in state.app.repo.latest_deliveries()
        if d.status in _TROUBLE
    ]
    return flask.render_template(
        "web/admin_home.j2",
        source_count=len(state.config.sources),
        recipient_count=len(state.config.recipients),
        failing=failing,
        stale=stale,
        deliveries=deliveries,
    )

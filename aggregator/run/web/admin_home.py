"""`/admin/`: the admin's home, and the navigation every admin page shows.

`NAV` lists the admin pages in menu order by endpoint; an entry shows once
its blueprint is registered, so each page group adds itself by existing.
"""

from __future__ import annotations

import flask

from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import web_state

bp = flask.Blueprint("admin_home", __name__)

NAV: tuple[tuple[str, str], ...] = (
    ("admin_home.index", "Home"),
    ("admin_sources.index", "Sources"),
    ("admin_recipients.index", "Recipients"),
    ("admin_preview.index", "Preview"),
    ("admin_deliveries.index", "Deliveries"),
)


def admin_nav() -> list[tuple[str, str]]:
    """(URL, label) of each admin page this app serves, in menu order."""
    views = flask.current_app.view_functions
    return [(flask.url_for(endpoint), label) for endpoint, label in NAV if endpoint in views]


@bp.get("/admin/")
@admin_required
def index() -> str:
    """What is configured, at a glance, with a link to each page."""
    config = web_state().config
    return flask.render_template(
        "web/admin_home.j2",
        source_count=len(config.sources),
        recipient_count=len(config.recipients),
    )

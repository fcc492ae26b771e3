"""`/admin/feedback`: what teachers value, per source, from their "more / less
like this" (how many teachers asked each way; no one is named)."""

from __future__ import annotations

import flask

from aggregator.app.feedback import feedback_by_source
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import web_state

bp = flask.Blueprint("admin_feedback", __name__)


@bp.get("/admin/feedback")
@admin_required
def index() -> str:
    """Per source, how many teachers asked for more and for less of it."""
    state = web_state()
    rows = [(state.config.source(row.source_key), row) for row in feedback_by_source(state.app)]
    return flask.render_template(
        "web/admin_feedback.j2",
        rows=[(source.title if source else row.source_key, row) for source, row in rows],
    )

"""`/healthz`: 200 when the database answers, 503 when it does not;
`/metrics`: the service's counts for Prometheus (`aggregator.app.metrics`).

For a load balancer or a monitor: plain text, no session, no sign-in.
"""

from __future__ import annotations

import logging

import flask

from aggregator.app import metrics
from aggregator.domain.errors import PLNError
from aggregator.run.web.context import web_state

log = logging.getLogger(__name__)

bp = flask.Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """ "ok" when the configuration loads and the database answers."""
    plain = {"Content-Type": "text/plain; charset=utf-8"}
    try:
        web_state().app.repo.ping()
    except PLNError as exc:
        log.warning("healthz: %s", exc)
        return (
            "unavailable: the database does not answer, or config.toml has problems\n",
            503,
            plain,
        )
    return "ok\n", 200, plain


@bp.get("/metrics")
def prometheus() -> flask.Response:
    """Fetches, fetch errors, digests sent and task times, as Prometheus reads them:
    counts only, no address, key or secret."""
    body, content_type = metrics.exposition()
    return flask.Response(body, 200, {"Content-Type": content_type})

"""`/admin/deliveries`: the latest digests sent, or trying to be, and their state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import flask

from aggregator.domain.delivery import DeliveryState, RecordedDelivery
from aggregator.run.web.auth import admin_required
from aggregator.run.web.context import web_state

bp = flask.Blueprint("admin_deliveries", __name__)

SHOWN = 200
"""Deliveries on the page: about a week of a large school's."""
_HEALTH_PREFIX = "health-report:"


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One line of the table, in words."""

    recipient: str
    day: str
    state: str
    attempts: int
    note: str


@bp.get("/admin/deliveries")
@admin_required
def index() -> str:
    """The latest deliveries, newest day first."""
    state = web_state()
    rows = [_row(d) for d in state.app.repo.recent_deliveries(SHOWN)]
    return flask.render_template("web/admin_deliveries.j2", rows=rows)


def _row(delivery: RecordedDelivery) -> DeliveryRow:
    recipient = delivery.email
    if recipient.startswith(_HEALTH_PREFIX):
        recipient = f"weekly health email to {recipient.removeprefix(_HEALTH_PREFIX)}"
    return DeliveryRow(
        recipient=recipient,
        day=delivery.local_day.isoformat(),
        state=str(delivery.status),
        attempts=delivery.attempts,
        note=_note(delivery),
    )


def _note(delivery: RecordedDelivery) -> str:
    """What to know, or do, about the delivery (as `pln status` says it)."""
    error = delivery.last_error or ""
    if delivery.status is DeliveryState.UNKNOWN:
        return f"check the mail log for {delivery.message_id}: {error}".rstrip(": ")
    if delivery.status is DeliveryState.RETRY:
        return f"next try {_at(delivery.next_attempt_at)}: {error}".rstrip(": ")
    if delivery.status is DeliveryState.SENT:
        return f"sent {_at(delivery.sent_at)}"
    return error


def _at(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "(not recorded)"

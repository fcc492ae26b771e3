"""Where each recipient stands: their latest delivery and their next digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.app.wiring import App
from aggregator.domain.delivery import RecordedDelivery
from aggregator.domain.recipient import RecipientConfig
from digests.due import next_send_at


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """A recipient, their latest recorded delivery (None: none yet) and when
    their next digest is planned (aware UTC; None: none within a year)."""

    recipient: RecipientConfig
    latest: RecordedDelivery | None
    next_at: datetime | None


def recipient_statuses(
    app: App, recipients: Sequence[RecipientConfig] | None = None
) -> list[RecipientStatus]:
    """The status of each of `recipients` (default: every configured one), in
    their order, in two queries whatever their number."""
    now = app.clock()
    recipients = app.config.recipients if recipients is None else recipients
    latest = {d.email: d for d in app.repo.latest_deliveries()}
    recorded = app.repo.recorded_days(
        [r.email for r in recipients], (now - timedelta(days=2)).date()
    )
    holidays = app.config.calendar.holidays
    return [
        RecipientStatus(
            r, latest.get(r.email), next_send_at(now, r, holidays, recorded.get(r.email, set()))
        )
        for r in recipients
    ]

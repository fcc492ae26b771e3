"""Where each recipient stands: their latest delivery, their next digest, and
what the teacher changed themselves (manage page, unsubscribe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.app.wiring import App
from aggregator.domain.delivery import RecordedDelivery
from aggregator.domain.preferences import NO_PREFERENCES, Preferences
from aggregator.domain.recipient import RecipientConfig
from digests.due import next_send_at


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """A recipient as their digests go out (their own choices applied), their
    latest recorded delivery (None: none yet), when their next digest is
    planned (aware UTC; None: none within a year, or unsubscribed) and what
    they chose themselves, in words ("" when nothing)."""

    recipient: RecipientConfig
    latest: RecordedDelivery | None
    next_at: datetime | None
    choices: str = ""


def recipient_statuses(
    app: App, recipients: Sequence[RecipientConfig] | None = None
) -> list[RecipientStatus]:
    """The status of each of `recipients` (default: every configured one), in
    their order, in four queries whatever their number."""
    now = app.clock()
    recipients = app.config.recipients if recipients is None else recipients
    latest = {d.email: d for d in app.repo.latest_deliveries()}
    recorded = app.repo.recorded_days(
        [r.email for r in recipients], (now - timedelta(days=2)).date()
    )
    chosen, gone = app.repo.all_preferences(), app.repo.unsubscribed()
    holidays = app.config.calendar.holidays
    statuses = []
    for configured in recipients:
        preferences = chosen.get(configured.email, NO_PREFERENCES)
        r = preferences.applied_to(configured)
        # Paused: the first digest day from the pause's end on.
        resumes_at = _local_midnight(preferences.paused_until, r.timezone)
        next_at = next_send_at(max(now, resumes_at), r, holidays, recorded.get(r.email, set()))
        if r.email in gone:
            next_at = None
        statuses.append(
            RecipientStatus(r, latest.get(r.email), next_at, _choices(preferences, r.email in gone))
        )
    return statuses


def _local_midnight(day: date | None, timezone: str) -> datetime:
    """The start of `day` in `timezone` (the distant past for None)."""
    if day is None:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))


def _choices(preferences: Preferences, unsubscribed: bool) -> str:
    """What the teacher changed on their own, in a few words for the admin."""
    if unsubscribed:
        return "unsubscribed"
    said = []
    if preferences.paused_until is not None:
        said.append(f"paused until {preferences.paused_until.isoformat()}")
    if preferences.send_at or preferences.days is not None or preferences.timezone:
        said.append("own send time")
    if preferences.reading_minutes:
        said.append(f"{preferences.reading_minutes} min")
    if preferences.mute:
        said.append("mutes " + ", ".join(preferences.mute))
    if preferences.boost:
        said.append("boosts " + ", ".join(preferences.boost))
    return "; ".join(said)

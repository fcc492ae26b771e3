"""Source health: failing and stale sources, for `pln status` and the
admin's weekly health email.

A source never goes quiet silently. A failing one shows its error and
failure count (its back-off is capped, so it is still tried daily); one that
answers but has brought no new item for `[schedule] stale_after_days` is
flagged stale: a feed that moved without a redirect, a hashtag nobody uses
any more, an inbox whose newsletters stopped. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from aggregator.app.mailer import MESSAGE_POLICY, config_mailbox
from aggregator.config.entries import WEEKDAYS
from aggregator.config.schedule import ScheduleConfig
from aggregator.domain.source import SourceStatus

# The weekly health email goes at this local time in `[schedule] timezone`.
HEALTH_EMAIL_AT = time(7, 0)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One active source's health at a moment: failing, stale, or fine."""

    key: str
    kind: str
    is_failing: bool
    is_stale: bool
    failures: int = 0
    last_error: str | None = None
    quiet_days: int | None = None
    """Whole days since a fetch last brought a new item; None: never did."""

    @property
    def summary(self) -> str:
        """What is wrong, in one line ("" when nothing is)."""
        if self.is_failing:
            return f"failing ({self.failures}x): {self.last_error or 'unknown error'}"
        if self.is_stale:
            quiet = (
                "no new item yet"
                if self.quiet_days is None
                else (f"no new item for {self.quiet_days} days")
            )
            return f"stale: answers, but {quiet}"
        return ""


def is_stale(status: SourceStatus, now: datetime, stale_after: timedelta) -> bool:
    """Whether `status` answers (its last fetch succeeded) but has brought no
    new item within `stale_after`."""
    if status.consecutive_failures or status.last_success_at is None:
        return False
    return status.last_new_post_at is None or now - status.last_new_post_at > stale_after


def source_health(
    statuses: Sequence[SourceStatus], now: datetime, stale_after: timedelta
) -> list[SourceHealth]:
    """The health of every active source in `statuses`, in their order."""
    found = []
    for status in statuses:
        if not status.is_active:
            continue
        quiet = None if status.last_new_post_at is None else (now - status.last_new_post_at).days
        found.append(
            SourceHealth(
                key=status.key,
                kind=status.kind,
                is_failing=status.consecutive_failures > 0,
                is_stale=is_stale(status, now, stale_after),
                failures=status.consecutive_failures,
                last_error=status.last_error,
                quiet_days=quiet,
            )
        )
    return found


def health_email_day(now: datetime, schedule: ScheduleConfig, grace: timedelta) -> date | None:
    """The local day whose weekly health email is due at `now`, or None.

    Due from 07:00 on `weekly_health_email`'s day in `[schedule] timezone`
    for `grace` (so downtime never sends last week's late); the caller
    remembers the day it sent, so it goes once.
    """
    if not schedule.weekly_health_email:
        return None
    zone = ZoneInfo(schedule.timezone)
    today = now.astimezone(zone).date()
    if WEEKDAYS[today.weekday()] != schedule.weekly_health_email:
        return None
    planned = datetime.combine(today, HEALTH_EMAIL_AT, tzinfo=zone)
    return today if timedelta(0) <= now - planned <= grace else None


def health_email(
    health: Sequence[SourceHealth], day: date, sender: str, admin: str, now: datetime
) -> EmailMessage:
    """The weekly health email to `admin`: failing and stale sources first.

    Built like a digest (`build_message`'s policy and address rule). Raises
    PermanentFailure when `[email] from` or `admin` is no address a header
    can carry (`pln check` refuses those).
    """
    failing = [h for h in health if h.is_failing]
    stale = [h for h in health if h.is_stale]
    from_name, from_address = config_mailbox(sender, "from")
    admin_name, admin_address = config_mailbox(admin, "admin")
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = Address(display_name=from_name, addr_spec=from_address)
    message["To"] = Address(display_name=admin_name, addr_spec=admin_address)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message["Subject"] = (
        f"PLN Digest health {day.isoformat()}: {len(failing)} failing, "
        f"{len(stale)} stale of {len(health)} sources"
    )
    lines = [f"{h.key} ({h.kind}): {h.summary}" for h in failing + stale]
    if not lines:
        lines = ["Every source answers and brings new items."]
    lines += ["", "Run `pln status` on the server for details."]
    message.set_content("\n".join(lines) + "\n")
    return message

"""Which digests are due: recipients, their local send times and the clock in,
a list out (pure: the scheduler is a metronome, see docs/architecture.md).

What is due is derived from the configuration, the deliveries already
recorded and `now` alone, so `pln send` and `pln run` agree, and a restart
loses nothing: a digest is due on a recipient's local day once their
`send_at` has passed there, until one is recorded for that day. A day that
is not one of the recipient's `days`, or falls in a school holiday, has no
digest at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from aggregator.domain.recipient import RecipientConfig

# After downtime, a digest less late than this still goes out; an older one
# is skipped (and logged by the caller), never sent late and never twice.
DEFAULT_GRACE = timedelta(hours=2)
MIN_GAP = timedelta(hours=12)
"""Two digests to one recipient are never closer than this. Local days are
counted in the recipient's time zone, so moving it (Pacific/Auckland to
Pacific/Honolulu) can bring round a day not yet sent minutes after the
last digest; that day is skipped, and reported like a missed one."""
# Day names as `days` spells them, in `date.weekday()` order.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far `next_send_at` looks ahead: longer than any school break.
_HORIZON_DAYS = 400


class DateSpan(Protocol):
    """A range of local days, both ends included (a `[calendar]` holiday)."""

    @property
    def first(self) -> date: ...

    @property
    def last(self) -> date: ...


@dataclass(frozen=True, slots=True)
class DueDigest:
    """One recipient's digest for one local day, and when it was meant to go."""

    recipient: RecipientConfig
    local_day: date
    send_at: datetime  # aware UTC


def send_instant(recipient: RecipientConfig, day: date) -> datetime:
    """The UTC instant of `recipient`'s `send_at` on their local `day`.

    Across a daylight-saving change the wall-clock time is kept (06:30 stays
    06:30 local); a time that does not exist that day (skipped by a spring
    change) resolves to the same instant as the hour after, as zoneinfo does.
    """
    hour, minute = (int(part) for part in recipient.send_at.split(":"))
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(recipient.timezone))
    return local.astimezone(UTC)


def is_send_day(recipient: RecipientConfig, day: date, holidays: Collection[DateSpan] = ()) -> bool:
    """Whether `recipient` gets a digest on their local `day`: one of their
    `days` (every day when empty) and in no holiday."""
    if recipient.days and WEEKDAYS[day.weekday()] not in recipient.days:
        return False
    return not any(span.first <= day <= span.last for span in holidays)


def due_digests(
    now: datetime,
    recipients: Sequence[RecipientConfig],
    recorded: Mapping[str, Collection[date]],
    grace: timedelta = DEFAULT_GRACE,
    *,
    holidays: Collection[DateSpan] = (),
) -> tuple[list[DueDigest], list[DueDigest]]:
    """(due, missed) at `now`.

    `recorded` maps a recipient's email to the local days that already have
    a delivery recorded (claimed or sent). Only the recipient's current local
    day is considered: yesterday's digest, if it never went, is not sent
    today. A digest whose send time passed more than `grace` ago is missed
    (the caller logs it; it is never sent late). A day outside the
    recipient's `days` or within `holidays` is neither. Ordered by send
    time, then email.
    """
    due: list[DueDigest] = []
    missed: list[DueDigest] = []
    for recipient in recipients:
        today = now.astimezone(ZoneInfo(recipient.timezone)).date()
        if today in recorded.get(recipient.email, ()) or not is_send_day(
            recipient, today, holidays
        ):
            continue
        planned = send_instant(recipient, today)
        if planned > now:
            continue
        (due if now - planned <= grace else missed).append(DueDigest(recipient, today, planned))
    return sorted(due, key=_order), sorted(missed, key=_order)


def is_too_soon(now: datetime, last_sent_at: datetime | None, gap: timedelta = MIN_GAP) -> bool:
    """Whether a digest sent at `now` would follow the one sent at
    `last_sent_at` (None: never) by less than `gap`."""
    return last_sent_at is not None and now - last_sent_at < gap


def next_send_at(
    now: datetime,
    recipient: RecipientConfig,
    holidays: Collection[DateSpan] = (),
    recorded: Collection[date] = (),
) -> datetime | None:
    """When `recipient`'s next digest is planned (aware UTC): the first send
    day, from their local today on, not yet `recorded`, whose send time is
    still ahead of `now`. None when none falls within about a year."""
    today = now.astimezone(ZoneInfo(recipient.timezone)).date()
    for offset in range(_HORIZON_DAYS):
        day = today + timedelta(days=offset)
        if day in recorded or not is_send_day(recipient, day, holidays):
            continue
        planned = send_instant(recipient, day)
        if planned > now:
            return planned
    return None


def sending_soon(
    now: datetime,
    recipients: Sequence[RecipientConfig],
    within: timedelta,
    holidays: Collection[DateSpan] = (),
) -> list[RecipientConfig]:
    """The recipients whose next digest is planned in (now, now + within]:
    whose sources should be fresh by then."""
    soon = []
    for recipient in recipients:
        planned = next_send_at(now, recipient, holidays)
        if planned is not None and planned - now <= within:
            soon.append(recipient)
    return soon


def _order(digest: DueDigest) -> tuple[datetime, str]:
    return digest.send_at, digest.recipient.email

"""The `[schedule]` and `[calendar]` sections of the configuration: when the
service runs what, and the school days on which no digest goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.config.entries import WEEKDAYS
from aggregator.config.read import Table

SCHEDULE_KEYS = (
    "misfire_grace_minutes",
    "stale_after_days",
    "refresh_before_send_minutes",
    "weekly_health_email",
    "timezone",
)
HOLIDAY_KEYS = ("name", "first", "last")


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """`[schedule]`: how `pln run` treats lateness, freshness and health.

    `weekly_health_email` is the weekday ("mon".."sun") the admin's health
    email goes out at 07:00 in `timezone`, or "" for none.
    """

    misfire_grace_minutes: int = 120
    stale_after_days: int = 14
    refresh_before_send_minutes: int = 30
    weekly_health_email: str = ""
    timezone: str = "UTC"

    @property
    def misfire_grace(self) -> timedelta:
        """How late a digest may still go out after downtime."""
        return timedelta(minutes=self.misfire_grace_minutes)


@dataclass(frozen=True, slots=True)
class Holiday:
    """A school break: no digest on any local day from `first` to `last`, inclusive."""

    first: date
    last: date
    name: str = ""


@dataclass(frozen=True, slots=True)
class CalendarConfig:
    """`[calendar]`: the school's breaks."""

    holidays: tuple[Holiday, ...] = ()


def read_schedule(table: Table) -> ScheduleConfig:
    """The `[schedule]` table; every wrong value is a problem and its default."""
    default = ScheduleConfig()
    table.check_keys(SCHEDULE_KEYS)
    return ScheduleConfig(
        misfire_grace_minutes=table.whole(
            "misfire_grace_minutes", default.misfire_grace_minutes, 0, 24 * 60
        ),
        stale_after_days=table.whole("stale_after_days", default.stale_after_days, 1, 365),
        refresh_before_send_minutes=table.whole(
            "refresh_before_send_minutes", default.refresh_before_send_minutes, 0, 24 * 60
        ),
        weekly_health_email=_read_health_day(table),
        timezone=_read_zone(table, default.timezone),
    )


def _read_health_day(table: Table) -> str:
    value = table.data.get("weekly_health_email", False)
    if value is False:
        return ""
    day = value.strip().lower() if isinstance(value, str) else ""
    if day not in WEEKDAYS:
        table.problem("weekly_health_email", f"must be a day ({', '.join(WEEKDAYS)}) or false")
        return ""
    return day


def _read_zone(table: Table, default: str) -> str:
    name = table.text("timezone", default)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, like "America"
        table.problem(
            "timezone", f"unknown time zone {name!r}; use an IANA name like Europe/London"
        )
        return default
    return name


def read_calendar(table: Table) -> CalendarConfig:
    """The `[calendar]` table: `[[calendar.holidays]]` entries, each a date range."""
    table.check_keys(("holidays",))
    holidays = []
    for entry in table.tables("holidays"):
        entry.check_keys(HOLIDAY_KEYS)
        first, last = _read_date(entry, "first"), _read_date(entry, "last")
        if first and last and last < first:
            entry.problem("last", f"is before first ({first.isoformat()})")
        elif first and last:
            holidays.append(Holiday(first, last, entry.text("name")))
    return CalendarConfig(tuple(holidays))


def _read_date(table: Table, key: str) -> date | None:
    """A TOML date (2026-12-21) or the same in quotes; None after a problem."""
    value = table.data.get(key)
    if value is None:
        table.problem(key, "is required (a date like 2026-12-21)")
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass  # reported below, with the expected form
    table.problem(key, "must be a date like 2026-12-21")
    return None

"""Teachers' own choices for their digest: checked, saved, and applied.

The manage page sends a `PreferenceForm`; `save_preferences` checks it by
the rules `pln check` applies to a `[[recipients]]` entry (a form field is
untrusted input), keeps only what differs from the entry, and stores it.
`scheduled_recipients` is what sending and `pln status` go by: each
entry with its teacher's choices applied, without those pausing today.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from aggregator.app.wiring import App
from aggregator.config.entries import MAX_PHRASE_CHARS, MAX_PHRASES, WEEKDAYS
from aggregator.domain.errors import PLNError
from aggregator.domain.preferences import NO_PREFERENCES, Preferences
from aggregator.domain.recipient import RecipientConfig

__all__ = [
    "MAX_PAUSE",
    "PreferenceError",
    "PreferenceForm",
    "effective_recipient",
    "preferences_of",
    "save_preferences",
    "scheduled_recipients",
    "teacher_states",
]

MAX_PAUSE = timedelta(days=366)
"""The longest pause: longer than a year is an unsubscribe."""
_SEND_AT = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_MAX_MINUTES = 60
# A mute or boost field holding more than its longest valid list is refused
# before it is split (a pasted book is not read word by word).
_MAX_FIELD_CHARS = MAX_PHRASES * (MAX_PHRASE_CHARS + 2)


class PreferenceError(PLNError):
    """A manage form that cannot be saved; `problems` maps each field to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        """`problems`: field name -> one line saying what to change."""
        super().__init__("; ".join(f"{field}: {why}" for field, why in problems.items()))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PreferenceForm:
    """The manage page's fields as sent, unchecked (blank: the entry's value)."""

    send_at: str = ""
    days: tuple[str, ...] = ()
    reading_minutes: str = ""
    timezone: str = ""
    mute: str = ""
    boost: str = ""
    paused_until: str = ""


def preferences_of(app: App, email: str) -> Preferences:
    """`email`'s saved choices. Raises StorageError."""
    return app.repo.preferences(email)


def effective_recipient(app: App, recipient: RecipientConfig) -> RecipientConfig:
    """`recipient` with their choices applied, as their next digest is built."""
    return preferences_of(app, recipient.email).applied_to(recipient)


def scheduled_recipients(
    app: App, recipients: Iterable[RecipientConfig], now: datetime
) -> list[RecipientConfig]:
    """`recipients` with their choices applied, leaving out those who paused
    their digest on their local day at `now`. Raises StorageError."""
    chosen = app.repo.all_preferences()
    scheduled = []
    for recipient in recipients:
        preferences = chosen.get(recipient.email, NO_PREFERENCES)
        applied = preferences.applied_to(recipient)
        if not preferences.is_paused_on(now.astimezone(ZoneInfo(applied.timezone)).date()):
            scheduled.append(applied)
    return scheduled


def save_preferences(
    app: App, recipient: RecipientConfig, form: PreferenceForm, today: date
) -> Preferences:
    """Check `form` and save it as `recipient`'s choices from their next digest;
    `today` is their local day. Returns what was saved.

    Raises PreferenceError (nothing saved) naming every field to correct,
    StorageError when the database fails.
    """
    problems: dict[str, str] = {}
    parsed = _parse(form, today, problems)
    if problems:
        raise PreferenceError(problems)
    saved = _differences(parsed, recipient)
    app.repo.save_preferences(recipient.email, saved, app.clock())
    return saved


def _parse(form: PreferenceForm, today: date, problems: dict[str, str]) -> Preferences:
    return Preferences(
        send_at=_send_at(form.send_at, problems),
        days=_days(form.days, problems),
        reading_minutes=_minutes(form.reading_minutes, problems),
        timezone=_timezone(form.timezone, problems),
        mute=_phrases("mute", form.mute, problems),
        boost=_phrases("boost", form.boost, problems),
        paused_until=_pause(form.paused_until, today, problems),
    )


def _differences(chosen: Preferences, recipient: RecipientConfig) -> Preferences:
    """`chosen` keeping only what differs from the entry: an admin's later
    edit of the entry then reaches the teacher where they changed nothing."""
    every_day = recipient.days or WEEKDAYS
    return Preferences(
        send_at=None if chosen.send_at == recipient.send_at else chosen.send_at,
        days=None if chosen.days in (None, every_day) else chosen.days,
        reading_minutes=(
            None if chosen.reading_minutes == recipient.reading_minutes else chosen.reading_minutes
        ),
        timezone=None if chosen.timezone == recipient.timezone else chosen.timezone,
        mute=tuple(p for p in chosen.mute if p not in recipient.mute),
        boost=tuple(p for p in chosen.boost if p not in recipient.boost),
        paused_until=chosen.paused_until,
    )


def _send_at(text: str, problems: dict[str, str]) -> str | None:
    text = text.strip()
    if not text:
        return None
    match = _SEND_AT.fullmatch(text)
    if match is None:
        problems["send_at"] = 'give a 24-hour time "HH:MM", like 06:30'
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _days(days: Sequence[str], problems: dict[str, str]) -> tuple[str, ...] | None:
    chosen = {day.strip().lower() for day in days}
    if not chosen:
        problems["days"] = "choose at least one day (or pause your digest instead)"
        return None
    if not chosen <= set(WEEKDAYS):
        problems["days"] = f"choose days among {', '.join(WEEKDAYS)}"
        return None
    return tuple(day for day in WEEKDAYS if day in chosen)


def _minutes(text: str, problems: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= _MAX_MINUTES:
        problems["reading_minutes"] = f"give a whole number of minutes from 1 to {_MAX_MINUTES}"
        return None
    return int(text)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(text: str, problems: dict[str, str]) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text not in _zones():
        problems["timezone"] = "choose a time zone from the list, like America/Chicago"
        return None
    return text


def _phrases(field: str, text: str, problems: dict[str, str]) -> tuple[str, ...]:
    """One word or phrase a line (or between commas), each once."""
    if len(text) > _MAX_FIELD_CHARS:
        problems[field] = (
            f"too long: at most {MAX_PHRASES} words or phrases of "
            f"{MAX_PHRASE_CHARS} characters each"
        )
        return ()
    phrases = tuple(dict.fromkeys(" ".join(p.split()) for p in re.split(r"[\n,]", text)))
    phrases = tuple(p for p in phrases if p)
    if len(phrases) > MAX_PHRASES:
        problems[field] = f"at most {MAX_PHRASES} words or phrases (this list has {len(phrases)})"
    elif any(len(p) > MAX_PHRASE_CHARS for p in phrases):
        problems[field] = f"each word or phrase may have at most {MAX_PHRASE_CHARS} characters"
    else:
        return phrases
    return ()


def _pause(text: str, today: date, problems: dict[str, str]) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems["paused_until"] = "give a date as YYYY-MM-DD, like 2026-12-14"
        return None
    if day < today:
        problems["paused_until"] = f"{day.isoformat()} is in the past: choose a later day"
    elif day > today + MAX_PAUSE:
        problems["paused_until"] = "at most a year ahead: to stop for longer, unsubscribe"
    else:
        return day
    return None


def teacher_states(app: App, now: datetime) -> list[tuple[str, str]]:
    """(address, state) of each configured teacher who unsubscribed or paused
    their digest, for `pln status` and the admin's pages."""
    gone = app.repo.unsubscribed()
    chosen = app.repo.all_preferences()
    states = []
    for recipient in app.config.recipients:
        preferences = chosen.get(recipient.email, NO_PREFERENCES)
        zone = ZoneInfo(preferences.applied_to(recipient).timezone)
        if recipient.email in gone:
            states.append((recipient.email, "unsubscribed"))
        elif preferences.paused_until and preferences.is_paused_on(now.astimezone(zone).date()):
            states.append((recipient.email, f"paused until {preferences.paused_until}"))
    return states

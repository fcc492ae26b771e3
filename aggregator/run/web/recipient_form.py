"""The add/edit form of a recipient: form fields to `[[recipients]]` keys, and back.

The form says nothing about what is valid: the values go into config.toml
through `ConfigEdit`, whose check (the rules of `pln check`) answers with
problems by key, shown next to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from aggregator.app.config_edit import Value
from aggregator.config.entries import WEEKDAYS
from aggregator.domain.recipient import RecipientConfig

DEFAULTS = RecipientConfig(email="")


@dataclass
class RecipientForm:
    """What the form shows: the fields as text, and the problems by field.

    `problems[""]` are about the entry as a whole (or the rest of the file).
    """

    email: str = ""
    name: str = ""
    timezone: str = DEFAULTS.timezone
    send_at: str = DEFAULTS.send_at
    reading_minutes: str = str(DEFAULTS.reading_minutes)
    follow: tuple[str, ...] = ()
    days: tuple[str, ...] = ()
    mute: str = ""
    boost: str = ""
    problems: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, recipient: RecipientConfig) -> RecipientForm:
        """The form filled with an existing recipient."""
        return cls(
            email=recipient.to_address,
            name=recipient.name,
            timezone=recipient.timezone,
            send_at=recipient.send_at,
            reading_minutes=str(recipient.reading_minutes),
            follow=recipient.follow,
            days=recipient.days,
            mute="\n".join(recipient.mute),
            boost="\n".join(recipient.boost),
        )

    @classmethod
    def posted(cls, form: MultiDict[str, str]) -> RecipientForm:
        """The form as the admin sent it."""
        return cls(
            email=form.get("email", "").strip(),
            name=form.get("name", "").strip(),
            timezone=form.get("timezone", "").strip(),
            send_at=form.get("send_at", "").strip(),
            reading_minutes=form.get("reading_minutes", "").strip(),
            follow=tuple(form.getlist("follow")),
            days=tuple(day for day in WEEKDAYS if day in form.getlist("days")),
            mute=form.get("mute", ""),
            boost=form.get("boost", ""),
        )

    def values(self) -> dict[str, Value]:
        """The `[[recipients]]` keys to write; None removes a key (its default applies).

        A reading time that is not a number becomes a problem of the form.
        """
        minutes: Value = None
        if self.reading_minutes.isdigit():
            minutes = int(self.reading_minutes)
        elif self.reading_minutes:
            self.problems.setdefault("reading_minutes", []).append("must be a whole number")
        return {
            "email": self.email,
            "name": self.name or None,
            "timezone": self.timezone or None,
            "send_at": self.send_at or None,
            "reading_minutes": minutes,
            "follow": list(self.follow),
            # None ticked is every day, as a missing `days` key is.
            "days": list(self.days) if self.days and len(self.days) < len(WEEKDAYS) else None,
            "mute": _lines(self.mute),
            "boost": _lines(self.boost),
        }

    def with_problems(self, problems: Mapping[str, list[str]]) -> RecipientForm:
        """This form with `problems` added (by field)."""
        for key, messages in problems.items():
            self.problems.setdefault(key, []).extend(messages)
        return self


def _lines(text: str) -> list[str] | None:
    """One word or phrase a line; None for none (no key in the file)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines or None

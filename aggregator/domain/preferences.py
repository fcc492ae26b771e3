"""A teacher's own choices for their digest, on top of their `[[recipients]]` entry."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from aggregator.domain.recipient import RecipientConfig


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a teacher changed on the manage page; None keeps config.toml's value.

    `mute` and `boost` add to the entry's own lists (the admin's choices
    stay). Digests stop for the local days before `paused_until`.
    """

    send_at: str | None = None
    days: tuple[str, ...] | None = None
    reading_minutes: int | None = None
    timezone: str | None = None
    mute: tuple[str, ...] = ()
    boost: tuple[str, ...] = ()
    paused_until: date | None = None

    def applied_to(self, recipient: RecipientConfig) -> RecipientConfig:
        """`recipient` as their digest is built and scheduled with these choices."""
        return replace(
            recipient,
            send_at=self.send_at or recipient.send_at,
            days=recipient.days if self.days is None else self.days,
            reading_minutes=self.reading_minutes or recipient.reading_minutes,
            timezone=self.timezone or recipient.timezone,
            mute=tuple(dict.fromkeys((*recipient.mute, *self.mute))),
            boost=tuple(dict.fromkeys((*recipient.boost, *self.boost))),
        )

    def is_paused_on(self, local_day: date) -> bool:
        """Whether the teacher asked for no digest on `local_day`."""
        return self.paused_until is not None and local_day < self.paused_until


NO_PREFERENCES = Preferences()
"""A teacher who changed nothing: their entry in config.toml as it is."""

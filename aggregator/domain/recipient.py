"""Recipients: a `[[recipients]]` entry, who gets a digest, when, of what."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecipientConfig:
    """A `[[recipients]]` entry: who gets a digest, when, of what."""

    email: str
    name: str = ""
    timezone: str = "UTC"
    send_at: str = "06:30"
    reading_minutes: int = 5
    follow: tuple[str, ...] = ()
    mute: tuple[str, ...] = ()
    boost: tuple[str, ...] = ()
    days: tuple[str, ...] = ()
    """Weekdays a digest goes out ("mon".."sun"); empty means every day."""

"""A digest as it was sent: what "view in browser" and the archive show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class DigestCopy:
    """The message of one digest, as rendered for sending."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class ArchivedDigest:
    """A digest that went out (or may have), with its copy.

    `sent_at` is when its sending began (aware UTC); `local_day` the
    recipient's day it was for.
    """

    email: str
    local_day: date
    sent_at: datetime
    copy: DigestCopy

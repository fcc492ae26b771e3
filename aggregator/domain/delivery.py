"""Deliveries: the states of a digest's delivery, the claim to send it, what happened.

A digest goes out at most once per recipient and local day: a delivery is
claimed in the database before any SMTP, and every later step is a guarded
change of its state:

    claimed --(the end-of-data mark is about to be sent)--> unknown
    unknown --(250)--> sent          unknown --(5xx)--> failed
    claimed/unknown --(4xx, or the server was lost before the end of data)--> retry
    claimed/retry --(its next attempt is due)--> claimed again
    claimed/retry --(nothing to send, and empty digests are not sent)--> skipped

A delivery left `claimed` by a crash is safe to send again once its lease
ends: the server never saw the end of the message. One left `unknown` may
have been accepted, so it is never sent again automatically; `pln status`
shows it with its Message-ID to look up in the mail server's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class DeliveryState(StrEnum):
    """Where a recorded delivery stands; the value is what the database stores."""

    CLAIMED = "claimed"
    """Being sent (or its sender crashed before the end of the message)."""
    RETRY = "retry"
    """Not accepted; due again at its next attempt time."""
    UNKNOWN = "unknown"
    """The whole message went out but no answer came back: it may have been accepted."""
    SENT = "sent"
    """The server accepted it (250)."""
    FAILED = "failed"
    """Refused for good (5xx), given up after the last attempt, or missed."""
    SKIPPED = "skipped"
    """Nothing to send that day, and the admin asked not to send empty digests."""


class OutcomeStatus(StrEnum):
    """What one run did with a recipient's digest for a day (`pln send` prints it)."""

    SENT = "sent"
    WOULD_SEND = "would send"
    """A dry run built it; nothing was sent or recorded."""
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"
    MISSED = "missed"
    """Too late after downtime: recorded as failed for its day, never sent late."""
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to send `email`'s digest for `local_day`, held for the lease
    given when it was taken (after that, another process may take it).

    `attempts` counts this attempt (1 for a first claim).
    """

    delivery_id: int
    email: str
    local_day: date
    attempts: int


@dataclass(frozen=True, slots=True)
class RecordedDelivery:
    """A recipient's latest recorded delivery, for `pln status`."""

    email: str
    local_day: date
    status: DeliveryState
    attempts: int
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    message_id: str | None = None
    delivery_id: int = 0

    def claim(self) -> Claim:
        """This delivery as the claim its last attempt held (to take it again)."""
        return Claim(self.delivery_id, self.email, self.local_day, self.attempts)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What happened to one recipient's digest for one local day.

    `retry_at` is set for `OutcomeStatus.RETRY`; `message_id` names the
    message to look up in the mail log when the status is `UNKNOWN`.
    """

    email: str
    local_day: date
    status: OutcomeStatus
    subject: str = ""
    post_count: int = 0
    message_id: str = ""
    error: str = ""
    retry_at: datetime | None = None

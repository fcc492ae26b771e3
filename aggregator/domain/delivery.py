"""Deliveries: a digest recorded for a recipient's local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A digest recorded for a recipient's local day (built, and maybe sent)."""

    recipient_email: str
    local_day: str
    built_at: datetime
    sent_at: datetime | None = None
    post_count: int = 0

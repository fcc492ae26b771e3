"""The clock as a parameter: logic takes `now` or a `Clock`, never `datetime.now()`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime (the default `Clock`)."""
    return datetime.now(UTC)

"""What an X source remembers between runs (its cursor), and its read budget.

The cursor is one line, `x1;since=ID;user=HANDLE:ID;day=YYYY-MM-DD;reads=N`:
the newest tweet id seen (sent as `since_id`, or where a list stops), the
resolved user id of a `twitter_user` source, and the posts read on that UTC
day. X bills every post a page returns, including the tweets a retweet,
quote or reply brings along, so each page asks for few enough results that
even its worst case stays within `max_posts_per_day`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.domain.source import SourceConfig

__all__ = [
    "DEFAULT_DAILY_READS",
    "MAX_RESULTS",
    "READS_PER_RESULT",
    "XCursor",
    "daily_budget",
    "monthly_read_estimate",
    "page_size",
]

log = logging.getLogger(__name__)

_PREFIX = "x1"
DEFAULT_DAILY_READS = 100
MAX_RESULTS = 100  # the API's largest page on every endpoint used
# A result can bring two more posts with it (the tweet it quotes and the one
# it replies to; a retweet brings one), and X bills those reads too.
READS_PER_RESULT = 3


@dataclass(frozen=True, slots=True)
class XCursor:
    """The state of one X source; `day` is the UTC date `reads` counts."""

    since_id: str | None = None
    user: str | None = None
    day: str = ""
    reads: int = 0

    @classmethod
    def parse(cls, text: str | None) -> XCursor:
        """Read a stored cursor; an unreadable one starts afresh (logged)."""
        if not text:
            return cls()
        prefix, *fields = text.split(";")
        values = dict(f.partition("=")[::2] for f in fields)
        reads = values.get("reads", "0")
        if prefix != _PREFIX or not reads.isdigit():
            log.warning("ignoring an X cursor in an unknown format: %.40r", text)
            return cls()
        since = values.get("since", "")
        return cls(
            since_id=since if since.isdigit() else None,
            user=values.get("user") or None,
            day=values.get("day", ""),
            reads=int(reads),
        )

    def format(self) -> str:
        """The cursor as stored (see the module docstring)."""
        fields = [
            _PREFIX,
            f"since={self.since_id or ''}",
            f"user={self.user or ''}",
            f"day={self.day}",
            f"reads={self.reads}",
        ]
        return ";".join(fields)

    def reads_on(self, now: datetime) -> int:
        """Posts read so far on `now`'s UTC day."""
        return self.reads if self.day == now.date().isoformat() else 0

    def spend(self, now: datetime, reads: int) -> XCursor:
        """This cursor with `reads` more posts read on `now`'s UTC day."""
        return replace(self, day=now.date().isoformat(), reads=self.reads_on(now) + reads)

    def user_id(self, username: str) -> str | None:
        """The numeric id stored for `username` (None if another handle)."""
        handle, _, user_id = (self.user or "").rpartition(":")
        return user_id if handle.lower() == username.lower() and user_id.isdigit() else None


def daily_budget(source: SourceConfig) -> int:
    """The source's `max_posts_per_day` (validated by the config), else 100."""
    value = source.option("max_posts_per_day")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_DAILY_READS


def monthly_read_estimate(source: SourceConfig) -> int:
    """The most posts a month `source` may read from X (`max_posts_per_day` x 30)."""
    return daily_budget(source) * 30


def page_size(budget: int, used: int, minimum: int) -> int | None:
    """`max_results` for the next page: at most 100, and small enough that
    its worst-case reads fit in what is left of `budget` after `used`; None
    when not even a `minimum`-sized page (the endpoint's floor) fits."""
    size = min(MAX_RESULTS, (budget - used) // READS_PER_RESULT)
    return size if size >= minimum else None

"""A lease: a named piece of work held by one worker until it expires.

Workers on many machines share one database; a lease is how one of them
holds "fetching source K" or "task T is waiting in the queue" for a short
time, renewed while it lives. A worker that dies stops renewing, and once
its lease has expired another takes the work over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lease:
    """`key` held by `holder` from `taken_at` until `expires_at`.

    `abandoned` counts how many holders in a row let it expire without
    releasing it: each one died (or was stopped) in the middle of the work.
    """

    key: str
    holder: str
    taken_at: datetime
    expires_at: datetime
    abandoned: int = 0

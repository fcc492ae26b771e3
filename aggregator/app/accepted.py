"""Recording that the mail server accepted a message, through a database outage.

Once the server answered 250, the digest has gone: if the database cannot
record it, the delivery stays `unknown` and needs the admin (`pln status`,
the mail server's log). A database restart or failover takes a minute or
two, so the record is tried again with back-off for a while first.
"""

from __future__ import annotations

import logging
import time

from aggregator.domain.clock import Clock
from aggregator.domain.delivery import Claim
from aggregator.domain.errors import StorageError
from aggregator.store.repository import Repository

__all__ = ["SENT_RECORD_PATIENCE_S", "record_sent"]

log = logging.getLogger(__name__)

# How long to keep trying, in all; the waits between attempts, in seconds, then
# every 30 s up to the patience. (systemd's TimeoutStopSec is shorter: a
# stop during the wait leaves the delivery unknown, never sent twice.)
SENT_RECORD_PATIENCE_S = 180.0
_SENT_RECORD_WAITS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# Seams for tests, which make the database's outage last without waiting for it.
_sleep = time.sleep
_monotonic = time.monotonic


def record_sent(repo: Repository, claim: Claim, clock: Clock) -> StorageError | None:
    """Record that the server accepted the message, trying for up to
    `SENT_RECORD_PATIENCE_S` while the database is unavailable; the last
    error when it stayed so (the delivery is then left `unknown`)."""
    started = _monotonic()
    waits = iter(_SENT_RECORD_WAITS_S)
    while True:
        try:
            repo.mark_sent(claim, clock())
            return None
        except StorageError as exc:
            wait = next(waits, _SENT_RECORD_WAITS_S[-1])
            if _monotonic() - started + wait > SENT_RECORD_PATIENCE_S:
                return exc
            log.warning(
                "%s: the message for %s was accepted, but the database is unavailable "
                "(%s); trying again in %g s",
                claim.email,
                claim.local_day,
                exc,
                wait,
            )
            _sleep(wait)

"""Renewing a lease while its work runs, so only a dead worker loses it.

A worker holding a digest's claim or a source's fetch lease renews it every
third of its length on a thread of its own. When the process dies the
renewals stop, and the lease ends at most one length later: another worker
then takes the work over (see docs/architecture.md, "Workers").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from aggregator.domain.errors import PLNError

log = logging.getLogger(__name__)

Renew = Callable[[], bool]
"""Extends the lease; False once it is no longer ours."""


class Heartbeat:
    """`with Heartbeat(renew, every):` calls `renew()` every `every` seconds
    until the block ends. `lost` tells whether a renewal found the lease gone.

    A renewal that fails (the database restarting) is logged and tried
    again at the next beat: the lease is a third of its length ahead.
    """

    def __init__(self, renew: Renew, every: float, what: str) -> None:
        """Renew `what` (named in the log) with `renew` every `every` seconds."""
        self._renew = renew
        self._every = every
        self._what = what
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._beat, name="pln-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._every):
            try:
                if not self._renew():
                    self.lost = True
                    # Its outcome is recorded (or another worker took it over).
                    log.info("%s: no longer held; renewals stop", self._what)
                    return
            except PLNError as exc:
                log.warning("%s: lease not renewed, trying again: %s", self._what, exc)

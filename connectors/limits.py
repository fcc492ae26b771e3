"""Politeness and budgets that connectors respect, whoever keeps the count.

Three limits hold for every fetch: at most N requests at once to one host
(`HostSlots`), each X source's daily read budget (`ReadBudgets`), and a
network's login limit per account (`LoginLimits`, Bluesky's createSession).
Connectors see only these Protocols, through `ConnectorContext.limits`; the
wiring chooses who keeps the count. In one process (the default) that is
this module's in-memory classes; with a queue and many workers it is a
shared store, so the limits hold for the whole fleet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "BUDGET_KEPT",
    "DEFAULT_PER_HOST",
    "LOGINS_PER_WINDOW",
    "LOGIN_WINDOW",
    "HostBusy",
    "HostSlots",
    "Limits",
    "LimitsUnavailable",
    "LocalHostSlots",
    "LocalLoginLimits",
    "LocalReadBudgets",
    "LoginLimits",
    "LoginWait",
    "ReadBudgets",
    "Release",
    "local_limits",
    "login_limit_reason",
]

DEFAULT_PER_HOST = 4
Release = Callable[[], None]
"""Gives a held slot back; calling it again does nothing."""


class HostBusy(Exception):
    """No slot for a host came free within the wait allowed."""


class LimitsUnavailable(Exception):
    """The store keeping the fleet's counts cannot be reached: a fetch that
    needs a budget or a login waits for the next run."""


class HostSlots(Protocol):
    """A counting semaphore per host: at most `per_host` requests at once."""

    def acquire(self, host: str, wait_s: float) -> Release:
        """Wait up to `wait_s` for one of `host`'s slots; raise HostBusy if none came free."""
        ...


class ReadBudgets(Protocol):
    """Reads a network bills, counted per budget name (a source and a day)."""

    def take(self, name: str, most: int, least: int, limit: int, floor: int) -> int:
        """Grant up to `most` reads of budget `name` (at most `limit` in all), or 0
        when fewer than `least` are left. `floor` is what the caller knows was
        already spent (its stored cursor), should the count be younger."""
        ...

    def give_back(self, name: str, reads: int) -> None:
        """Return `reads` granted by `take` but not spent."""
        ...

    def spent(self, name: str) -> int:
        """Reads counted so far under `name`."""
        ...


@dataclass(frozen=True, slots=True)
class LoginWait:
    """Logins to an account are held back until `until`, for `reason`."""

    until: datetime
    reason: str


class LoginLimits(Protocol):
    """How many logins an account may make in a window, and a network's own "wait"."""

    def admit(self, account: str, now: datetime) -> LoginWait | None:
        """Count one login attempt for `account` now; a LoginWait instead when
        none may be made (the window is used up, or the network said to wait)."""
        ...

    def hold_back(self, account: str, until: datetime, reason: str) -> None:
        """The network refused a login: every process waits until `until`."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """The three limits handed to connectors."""

    hosts: HostSlots
    budgets: ReadBudgets
    logins: LoginLimits


# Bluesky's createSession allows 30 logins per 5 minutes and 300 a day per
# account; 10 an hour stays under both whatever the fleet does.
LOGINS_PER_WINDOW = 10
LOGIN_WINDOW = timedelta(hours=1)
# Budgets are daily: two days covers the day and its time zones' stragglers.
BUDGET_KEPT = timedelta(days=2)


class LocalHostSlots:
    """Per-host slots for the threads of one process."""

    def __init__(self, per_host: int = DEFAULT_PER_HOST) -> None:
        self._per_host = max(1, per_host)
        self._guard = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def acquire(self, host: str, wait_s: float) -> Release:
        """See `HostSlots.acquire`."""
        with self._guard:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self._per_host))
        if not slot.acquire(timeout=max(wait_s, 0.0)):
            raise HostBusy(host)
        return _once(slot.release)


class LocalReadBudgets:
    """Read budgets counted in this process's memory; a budget untouched for
    `BUDGET_KEPT` is forgotten (budgets are daily), so a long run stays small."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._spent: dict[str, tuple[int, float]] = {}  # name -> (reads, last touched)

    def take(self, name: str, most: int, least: int, limit: int, floor: int) -> int:
        """See `ReadBudgets.take`."""
        with self._guard:
            self._forget_old()
            spent = max(self._reads(name), floor)
            grant = min(most, limit - spent)
            if grant < max(least, 1):
                return 0
            self._spent[name] = (spent + grant, time.monotonic())
            return grant

    def give_back(self, name: str, reads: int) -> None:
        """See `ReadBudgets.give_back`."""
        with self._guard:
            left = max(0, self._reads(name) - max(reads, 0))
            self._spent[name] = (left, time.monotonic())

    def spent(self, name: str) -> int:
        """See `ReadBudgets.spent`."""
        with self._guard:
            return self._reads(name)

    def _reads(self, name: str) -> int:
        return self._spent.get(name, (0, 0.0))[0]

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - BUDGET_KEPT.total_seconds()
        for name in [n for n, (_, touched) in self._spent.items() if touched < cutoff]:
            del self._spent[name]


class LocalLoginLimits:
    """Login windows and waits kept in this process's memory."""

    def __init__(self, per_window: int = LOGINS_PER_WINDOW, window: timedelta = LOGIN_WINDOW):
        self._per_window, self._window = per_window, window
        self._guard = threading.Lock()
        self._attempts: dict[str, list[datetime]] = {}
        self._waits: dict[str, LoginWait] = {}

    def admit(self, account: str, now: datetime) -> LoginWait | None:
        """See `LoginLimits.admit`."""
        with self._guard:
            wait = self._waits.get(account)
            if wait is not None and now < wait.until:
                return wait
            recent = [t for t in self._attempts.get(account, []) if t > now - self._window]
            if len(recent) >= self._per_window:
                self._attempts[account] = recent
                return LoginWait(min(recent) + self._window, login_limit_reason(self._per_window))
            self._attempts[account] = [*recent, now]
            return None

    def hold_back(self, account: str, until: datetime, reason: str) -> None:
        """See `LoginLimits.hold_back`."""
        with self._guard:
            self._waits[account] = LoginWait(until, reason)


def local_limits(per_host: int = DEFAULT_PER_HOST) -> Limits:
    """The limits of one process (no queue): counted in memory."""
    return Limits(LocalHostSlots(per_host), LocalReadBudgets(), LocalLoginLimits())


def login_limit_reason(per_window: int) -> str:
    """Why a login is held back when the service's own login window is used up."""
    return f"login limit of this service reached ({per_window} logins an hour per account)"


def _once(release: Callable[[], None]) -> Release:
    spent = threading.Lock()

    def give_back() -> None:
        if spent.acquire(blocking=False):  # never released: the first call wins
            release()

    return give_back

"""The fleet's politeness and budgets, kept in Redis so they hold across
every worker on every machine (see `connectors.limits` for what each limit
means; connectors never see Redis, only those Protocols).

- Per-host slots are a counting semaphore: a sorted set per host whose
  members are the requests in flight, scored by when each one's hold
  expires (Redis's own clock, so the machines' clocks need not agree). A
  worker killed mid-request never gives its slot back; the slot is free
  again when its hold expires.
- A read budget is a counter per budget name (a source and a UTC day),
  reserved before a page is asked for and corrected after, so two
  processes never spend the same reads.
- A login window is a sorted set of login times per account (hashed: a
  handle is a credential), and a network's "wait until" is a key that
  expires then.

When Redis cannot be reached, host slots fall back to this process's own
(politeness per worker, logged); budgets and logins refuse with
`LimitsUnavailable`, since spending reads nobody counts would be billed.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import redis

from connectors.limits import (
    BUDGET_KEPT,
    LOGIN_WINDOW,
    LOGINS_PER_WINDOW,
    HostBusy,
    Limits,
    LimitsUnavailable,
    LocalHostSlots,
    LoginWait,
    Release,
    login_limit_reason,
)

log = logging.getLogger(__name__)

PREFIX = "pln:limits:"
T = TypeVar("T")
# A network's "wait until" is never believed beyond a week (see http.errors).
_WAIT_KEPT = timedelta(days=7)

# KEYS[1] the host's set; ARGV: slots, hold seconds, this request's token.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return 1
"""

# KEYS[1] the budget; ARGV: most, least, limit, floor, seconds kept.
_TAKE = """
local spent = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[4]))
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[3]) - spent)
if grant < math.max(tonumber(ARGV[2]), 1) then
  return 0
end
redis.call('SET', KEYS[1], spent + grant, 'EX', ARGV[5])
return grant
"""

# KEYS[1] the budget; ARGV[1] reads given back. Never below zero.
_GIVE_BACK = """
local left = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1]), 0)
redis.call('SET', KEYS[1], left, 'KEEPTTL')
return left
"""

# KEYS: the account's login times, its wait. ARGV: now, window seconds,
# logins per window, a token. Returns "" (admitted) or "until|reason".
_ADMIT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = redis.call('GET', KEYS[2])
if wait and tonumber(string.match(wait, '^[^|]*')) > now then
  return wait
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window) .. '|'
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return ''
"""


class RedisHostSlots:
    """`HostSlots` shared by every process using the same Redis.

    A request's hold lasts `hold_s` at most: longer than any request may
    take (the fetch deadline), so only a dead worker's slot ever expires.
    """

    def __init__(self, client: redis.Redis, per_host: int, hold_s: float) -> None:
        self._client, self._per_host, self._hold_s = client, max(1, per_host), hold_s
        self._acquire = client.register_script(_ACQUIRE)
        self._fallback = LocalHostSlots(per_host)
        self._warned = threading.Event()

    def acquire(self, host: str, wait_s: float) -> Release:
        """See `HostSlots.acquire`."""
        key, token = f"{PREFIX}host:{host}", uuid.uuid4().hex
        deadline, pause = time.monotonic() + max(wait_s, 0.0), 0.005
        try:
            while not self._acquire(keys=[key], args=[self._per_host, self._hold_s, token]):
                if time.monotonic() >= deadline:
                    raise HostBusy(host)
                time.sleep(pause * (0.5 + random.random()))  # jitter: waiters do not march
                pause = min(pause * 2, 0.1)
        except redis.RedisError as exc:
            if not self._warned.is_set():
                self._warned.set()
                log.warning("Redis unreachable (%s): per-host limits hold per worker only", exc)
            return self._fallback.acquire(host, max(deadline - time.monotonic(), 0.0))
        self._warned.clear()
        return lambda: self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        try:
            self._client.zrem(key, token)
        except redis.RedisError as exc:  # the hold expires by itself
            log.warning("could not give a %s slot back (%s); it expires by itself", key, exc)


class RedisReadBudgets:
    """`ReadBudgets` shared by every process using the same Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def take(self, name: str, most: int, least: int, limit: int, floor: int) -> int:
        """See `ReadBudgets.take`."""
        kept = int(BUDGET_KEPT.total_seconds())
        args = [most, least, limit, floor, kept]
        return int(_shared(lambda: self._take(keys=[_budget_key(name)], args=args)))

    def give_back(self, name: str, reads: int) -> None:
        """See `ReadBudgets.give_back`."""
        if reads > 0:
            _shared(lambda: self._give_back(keys=[_budget_key(name)], args=[reads]))

    def spent(self, name: str) -> int:
        """See `ReadBudgets.spent`."""
        return int(_shared(lambda: self._client.get(_budget_key(name))) or 0)


class RedisLoginLimits:
    """`LoginLimits` shared by every process using the same Redis."""

    def __init__(
        self,
        client: redis.Redis,
        per_window: int = LOGINS_PER_WINDOW,
        window: timedelta = LOGIN_WINDOW,
    ) -> None:
        self._client, self._per_window, self._window = client, per_window, window
        self._admit = client.register_script(_ADMIT)

    def admit(self, account: str, now: datetime) -> LoginWait | None:
        """See `LoginLimits.admit`."""
        keys = [_account_key(account), _account_key(account) + ":wait"]
        args: list[float | str] = [
            now.timestamp(),
            self._window.total_seconds(),
            self._per_window,
            uuid.uuid4().hex,
        ]
        answer = _shared(lambda: self._admit(keys=keys, args=args))
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if not text:
            return None
        until, _, reason = text.partition("|")
        when = datetime.fromtimestamp(float(until), UTC)
        return LoginWait(when, reason or login_limit_reason(self._per_window))

    def hold_back(self, account: str, until: datetime, reason: str) -> None:
        """See `LoginLimits.hold_back`."""
        value = f"{until.timestamp()}|{reason}"
        key = _account_key(account) + ":wait"
        # Compared with the caller's clock in _ADMIT; the expiry only cleans up.
        _shared(lambda: self._client.set(key, value, ex=int(_WAIT_KEPT.total_seconds())))


def redis_limits(url: str, per_host: int, hold_s: float) -> Limits:
    """The fleet's limits in the Redis at `url` (no connection is made yet)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return Limits(
        RedisHostSlots(client, per_host, hold_s),
        RedisReadBudgets(client),
        RedisLoginLimits(client),
    )


def _shared(call: Callable[[], T]) -> T:
    """Run one Redis call; an outage becomes LimitsUnavailable (one line)."""
    try:
        return call()
    except redis.RedisError as exc:
        message = f"the fleet's shared limits (Redis) are unreachable: {exc}"
        raise LimitsUnavailable(message) from exc


def _budget_key(name: str) -> str:
    return f"{PREFIX}budget:{name}"


def _account_key(account: str) -> str:
    network, _, name = account.partition(":")
    return f"{PREFIX}login:{network}:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

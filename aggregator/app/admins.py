"""Admin accounts of the web pages: creating them, signing in and out.

Passwords are stored as argon2id hashes (argon2-cffi's defaults, the RFC
9106 recommendation). A session is a random token: the cookie holds it, the
database its SHA-256, so a sign-out ends it everywhere and a new password
ends every session of that account. Guessing is slowed at each failure and
refused (`SignInRefused`, shown as 429) after `MAX_FAILURES` failures for an
account or from an address within `FAILURE_WINDOW`; the failures are rows in
the database, so the limit holds across processes.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aggregator.app.wiring import App
from aggregator.domain.address import address_problem, identity
from aggregator.domain.errors import PLNError
from aggregator.domain.limits import STORED_ADDRESS_CHARS

MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_CHARS = 10
# Each failure waits this much longer than the one before, up to MAX_DELAY_S.
DELAY_STEP_S = 0.25
MAX_DELAY_S = 2.0
_ADDRESS_CHARS = 64


class SignInRefused(PLNError):
    """Too many failed sign-ins for the account or from the address; try again later."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        minutes = max(1, round(retry_after.total_seconds() / 60))
        super().__init__(f"too many failed sign-ins: try again in {minutes} minutes")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token for the cookie, and whose it is."""

    token: str
    email: str


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def _decoy_hash() -> str:
    """A hash to check unknown accounts against, so they take as long as known ones."""
    return _hasher().hash(secrets.token_urlsafe(16))


def create_admin(app: App, email: str, password: str) -> tuple[str, bool]:
    """Create the admin `email` with `password`, or reset its password (which
    signs it out everywhere). Returns the account's address as stored (lower
    case) and whether the account is new.

    Raises PLNError when the address is not one or the password is too short.
    """
    address = identity(email)
    if problem := address_problem(address):
        raise PLNError(f"{email!r} {problem}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise PLNError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return address, app.repo.save_admin(address, _hasher().hash(password), app.clock())


def sign_in(
    app: App, email: str, password: str, client: str, sleep: Callable[[float], None]
) -> SignedIn | None:
    """A new session when `password` is `email`'s, else None (after a delay
    that grows with the failures: `sleep` waits that many seconds).

    `client` is the address the request came from. Raises SignInRefused
    when the account or the address already failed `MAX_FAILURES` times in
    `FAILURE_WINDOW`.
    """
    account, client = identity(email)[:STORED_ADDRESS_CHARS], client[:_ADDRESS_CHARS]
    now = app.clock()
    failures = max(app.repo.sign_in_failures(account, client, now - FAILURE_WINDOW))
    if failures >= MAX_FAILURES:
        raise SignInRefused(FAILURE_WINDOW)
    stored = app.repo.admin_password_hash(account)
    if not _matches(stored or _decoy_hash(), password) or stored is None:
        app.repo.record_sign_in_failure(account, client, now, now - FAILURE_WINDOW)
        sleep(min(MAX_DELAY_S, DELAY_STEP_S * (failures + 1)))
        return None
    if _hasher().check_needs_rehash(stored):
        app.repo.save_admin(account, _hasher().hash(password), now)
    app.repo.clear_sign_in_failures(account)
    token = secrets.token_urlsafe(32)
    app.repo.start_admin_session(_token_hash(token), account, now, now + SESSION_LIFETIME)
    return SignedIn(token, account)


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def session_admin(app: App, token: str) -> str | None:
    """The admin signed in with session `token`, or None (unknown or expired)."""
    return app.repo.session_admin(_token_hash(token), app.clock()) if token else None


def sign_out(app: App, token: str) -> None:
    """End the session `token`; its cookie no longer signs anyone in."""
    if token:
        app.repo.end_admin_session(_token_hash(token))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

"""The admins part of the repository: accounts, sessions and failed sign-ins.

Only hashes are stored: the password's (argon2, made by the app layer) and
the session token's (SHA-256 of a random token the cookie holds), so a copy
of the database signs nobody in. Failed sign-ins are rows, so the limit on
guessing holds across every process serving the pages.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from aggregator.store.engine import Transactions
from aggregator.store.tables import AdminRow, AdminSessionRow, SignInFailureRow


class AdminRecords(Transactions):
    """Admin accounts, sessions and failed sign-ins; one part of `Repository`."""

    def save_admin(self, email: str, password_hash: str, now: datetime) -> bool:
        """Create the account, or set its password and end its sessions.

        Returns True when the account is new. Raises `StorageError`.
        """

        def work(session: Session) -> bool:
            row = session.get(AdminRow, email)
            if row is None:
                session.add(
                    AdminRow(
                        email=email, password_hash=password_hash, created_at=now, updated_at=now
                    )
                )
                return True
            row.password_hash, row.updated_at = password_hash, now
            session.execute(delete(AdminSessionRow).where(AdminSessionRow.email == email))
            return False

        return self._run("saving an admin", work, write=True)

    def admin_password_hash(self, email: str) -> str | None:
        """The stored hash of the account `email`, or None when there is none."""

        def work(session: Session) -> str | None:
            row = session.get(AdminRow, email)
            return None if row is None else row.password_hash

        return self._run("reading an admin", work)

    def admin_count(self) -> int:
        """How many admin accounts exist."""
        return self._run(
            "counting admins", lambda s: s.scalar(select(func.count()).select_from(AdminRow)) or 0
        )

    def start_admin_session(
        self, token_hash: str, email: str, now: datetime, expires_at: datetime
    ) -> None:
        """Record a new session of `email`; expired sessions are dropped on the way."""

        def work(session: Session) -> None:
            session.execute(delete(AdminSessionRow).where(AdminSessionRow.expires_at <= now))
            session.add(
                AdminSessionRow(
                    token_hash=token_hash, email=email, created_at=now, expires_at=expires_at
                )
            )

        self._run("starting a session", work, write=True)

    def session_admin(self, token_hash: str, now: datetime) -> str | None:
        """The admin whose unexpired session has this token hash, or None."""

        def work(session: Session) -> str | None:
            row = session.get(AdminSessionRow, token_hash)
            return row.email if row is not None and row.expires_at > now else None

        return self._run("reading a session", work)

    def end_admin_session(self, token_hash: str) -> None:
        """Forget the session (sign-out); nothing happens when it is unknown."""
        self._run(
            "ending a session",
            lambda s: s.execute(
                delete(AdminSessionRow).where(AdminSessionRow.token_hash == token_hash)
            ),
            write=True,
        )

    def record_sign_in_failure(
        self, account: str, address: str, now: datetime, forget_before: datetime
    ) -> None:
        """Count a failed sign-in; failures before `forget_before` are dropped."""

        def work(session: Session) -> None:
            session.execute(
                delete(SignInFailureRow).where(SignInFailureRow.failed_at < forget_before)
            )
            session.add(SignInFailureRow(account=account, address=address, failed_at=now))

        self._run("recording a failed sign-in", work, write=True)

    def sign_in_failures(self, account: str, address: str, since: datetime) -> tuple[int, int]:
        """Failed sign-ins since `since`: (for this account, from this address)."""

        def count(session: Session, column: InstrumentedAttribute[str], value: str) -> int:
            query = (
                select(func.count())
                .select_from(SignInFailureRow)
                .where(column == value, SignInFailureRow.failed_at >= since)
            )
            return session.scalar(query) or 0

        def work(session: Session) -> tuple[int, int]:
            return (
                count(session, SignInFailureRow.account, account),
                count(session, SignInFailureRow.address, address),
            )

        return self._run("counting failed sign-ins", work)

    def clear_sign_in_failures(self, account: str) -> None:
        """Forget the account's failures after it signed in."""
        self._run(
            "clearing failed sign-ins",
            lambda s: s.execute(
                delete(SignInFailureRow).where(SignInFailureRow.account == account)
            ),
            write=True,
        )

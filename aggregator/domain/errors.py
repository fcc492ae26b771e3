"""The one exception tree of PLN Digest.

Foreign exceptions are translated once, at the edge (`connectors/http/`,
`aggregator/store/`, `aggregator/app/mailer.py`), with `raise ... from exc`.
Every message is one line a teacher or an admin can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class PLNError(Exception):
    """Base of every error PLN Digest raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration, with where it is."""

    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.key}: {self.message}"


class ConfigError(PLNError):
    """The configuration is invalid; `problems` lists every issue at once."""

    def __init__(self, problems: list[Problem], path: str = "") -> None:
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        summary = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"{where}{summary}{more}")


class StorageError(PLNError):
    """The database could not be opened, migrated or written."""


class SourceError(PLNError):
    """Fetching one source failed; it affects that source alone.

    `retry_after` is the earliest time the network allows another attempt
    (rate limit, Retry-After), or None to use the normal back-off.
    """

    def __init__(self, source_key: str, message: str, retry_after: datetime | None = None) -> None:
        self.source_key = source_key
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{source_key}: {message}")

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str, datetime | None]]:
        # Errors cross process boundaries (feed parsing runs in worker
        # processes); the default reduce would call __init__ with one argument.
        return (type(self), (self.source_key, self.message, self.retry_after))


class AuthError(SourceError):
    """A token is missing, expired or refused: retrying will not help."""


class RateLimited(SourceError):
    """The network asked us to wait (HTTP 429, 503 with Retry-After, quota)."""


class FetchError(SourceError):
    """DNS, TLS, timeout, refused address, 5xx, 404, body too large."""


class SourceGone(FetchError):
    """The source answered 410 Gone: it is deactivated until the admin acts."""


class ParseError(SourceError):
    """The body is not what the network promised (not a feed, bad JSON)."""


class DeliveryError(PLNError):
    """The mail server refused or could not be reached.

    How far the message got decides whether it may be sent again, so a
    mailer raises one of the subclasses below, never this class itself.
    """


class TemporaryFailure(DeliveryError):
    """The server did not accept the message (4xx, or lost before the end of
    the message): sending it again later is safe."""


class ServerUnavailable(TemporaryFailure):
    """The server cannot be reached or refused the login: the rest of the
    batch would fail the same way."""


class PermanentFailure(DeliveryError):
    """The message can never go as it is: the server refused it for good
    (5xx), or it cannot be written (an address no header can carry)."""


class UnknownOutcome(DeliveryError):
    """The whole message was sent but the server's answer was lost: it may
    have been accepted, so it must not be sent again automatically."""


class BadLink(PLNError):
    """A signed link from an email that is not genuine: altered, cut short,
    made for another purpose, or signed with another secret."""


class ExpiredLink(BadLink):
    """A genuine signed link too old to be honoured; the latest digest has a fresh one."""


class UnknownRecipient(PLNError):
    """A genuine link naming an address that no longer gets digests (removed
    from config.toml): nothing is changed for it."""

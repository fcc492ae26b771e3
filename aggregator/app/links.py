"""Signed links in a digest that need no account: unsubscribe, the archive,
managing one's digest, more or less like a story.

A link signs what it points at (an address, a day, a post's key), never a
URL: changing `[web] public_url` leaves every link already sent valid. Each
purpose has its own salt, so a token made for one purpose is refused by
the others (itsdangerous "salt", see
https://itsdangerous.palletsprojects.com/en/stable/concepts/). Links that
only stop mail or show what was sent never expire (RFC 8058 asks for
unsubscribe links that keep working); those that change what a teacher
gets expire after `MAX_AGE`, so a digest forwarded months ago cannot
change a colleague's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from urllib.parse import quote

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from aggregator.config.types import Config
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.errors import BadLink, ExpiredLink

__all__ = [
    "MAX_AGE",
    "FeedbackTarget",
    "LinkSigner",
    "Purpose",
    "link_url",
    "signer_for",
]


class Purpose(StrEnum):
    """What a signed link is for: its salt, and the first part of its path."""

    UNSUBSCRIBE = "unsubscribe"
    ARCHIVE = "archive"
    MANAGE = "manage"
    FEEDBACK = "feedback"


PATHS = {
    Purpose.UNSUBSCRIBE: "u",
    Purpose.ARCHIVE: "d",
    Purpose.MANAGE: "m",
    Purpose.FEEDBACK: "f",
}
"""The first segment of each purpose's path on the web server."""

MAX_AGE: Mapping[Purpose, timedelta] = {
    Purpose.MANAGE: timedelta(days=180),
    Purpose.FEEDBACK: timedelta(days=90),
}
"""How long links that change a teacher's digest are honoured; the others never expire."""

_SALT_PREFIX = "pln-digest link "


@dataclass(frozen=True, slots=True)
class FeedbackTarget:
    """What a "more / less like this" link names: a recipient and one post."""

    email: str
    source_key: str
    external_id: str


class LinkSigner:
    """Makes and checks the signed tokens of the web's teacher links."""

    def __init__(self, secret: str, clock: Clock = utc_now) -> None:
        """Sign with `secret` (the `[web] secret_env` value); `clock` dates tokens."""
        if not secret:
            raise ValueError("a link signer needs a non-empty secret")
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:
        return "LinkSigner(<redacted>)"

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        clock = self._clock

        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        return URLSafeTimedSerializer(
            self._secret, salt=_SALT_PREFIX + purpose.value, signer=_ClockSigner
        )

    def sign(self, purpose: Purpose, payload: Mapping[str, str]) -> str:
        """A url-safe token carrying `payload` for `purpose`."""
        return str(self._serializer(purpose).dumps(dict(payload)))

    def verify(self, purpose: Purpose, token: str, keys: frozenset[str]) -> dict[str, str]:
        """The payload of a genuine `purpose` token holding exactly `keys`.

        Raises ExpiredLink for a genuine token older than its purpose's
        MAX_AGE, BadLink for anything else that is not a genuine token.
        """
        payload = self._load(purpose, token)
        if set(payload) != keys:
            raise BadLink("this link is not valid: it holds something other than expected")
        return payload

    def _load(self, purpose: Purpose, token: str) -> dict[str, str]:
        max_age = MAX_AGE.get(purpose)
        try:
            payload = self._serializer(purpose).loads(
                token, max_age=int(max_age.total_seconds()) if max_age else None
            )
        except SignatureExpired as exc:
            raise ExpiredLink("this link has expired; use the one in your latest digest") from exc
        except BadData as exc:
            raise BadLink(
                "this link is not valid: it was altered, cut short, or is not one of ours"
            ) from exc
        if not isinstance(payload, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in payload.items()
        ):
            raise BadLink("this link is not valid: it holds something other than expected")
        return payload

    # -- one method pair per kind of link ---------------------------------------

    def recipient_token(self, purpose: Purpose, email: str) -> str:
        """A token naming `email` (unsubscribe, manage, the list of past digests)."""
        return self.sign(purpose, {"r": email})

    def recipient_of(self, purpose: Purpose, token: str) -> str:
        """The address a `recipient_token` names; raises BadLink or ExpiredLink."""
        return self.verify(purpose, token, frozenset({"r"}))["r"]

    def digest_token(self, email: str, local_day: date) -> str:
        """A token naming `email`'s digest of `local_day` (view in browser)."""
        return self.sign(Purpose.ARCHIVE, {"r": email, "d": local_day.isoformat()})

    def digest_of(self, token: str) -> tuple[str, date | None]:
        """The address and day a `digest_token` names (day None: a token of
        the list of past digests, `recipient_token(Purpose.ARCHIVE, ...)`).
        Raises BadLink."""
        payload = self._load(Purpose.ARCHIVE, token)
        if set(payload) == {"r"}:
            return payload["r"], None
        if set(payload) != {"r", "d"}:
            raise BadLink("this link is not valid: it holds something other than expected")
        try:
            return payload["r"], date.fromisoformat(payload["d"])
        except ValueError as exc:
            raise BadLink("this link is not valid: it names no day") from exc

    def feedback_token(self, target: FeedbackTarget) -> str:
        """A token naming a recipient and a post of their digest."""
        return self.sign(
            Purpose.FEEDBACK,
            {"r": target.email, "s": target.source_key, "x": target.external_id},
        )

    def feedback_of(self, token: str) -> FeedbackTarget:
        """What a `feedback_token` names; raises BadLink or ExpiredLink."""
        payload = self.verify(Purpose.FEEDBACK, token, frozenset({"r", "s", "x"}))
        return FeedbackTarget(payload["r"], payload["s"], payload["x"])


def link_url(public_url: str, purpose: Purpose, token: str, *rest: str) -> str:
    """`<public_url>/<path of purpose>/<rest...>/<token>`; tokens are url-safe."""
    parts = [PATHS[purpose], *rest, quote(token, safe="")]
    return f"{public_url.rstrip('/')}/{'/'.join(parts)}"


def signer_for(config: Config, clock: Clock = utc_now) -> LinkSigner | None:
    """The signer of `[web] secret_env`, or None when it is not set."""
    secret = config.web.secret
    return None if secret is None or not secret.reveal() else LinkSigner(secret.reveal(), clock)

"""Unsubscribe links that need no account: the address, signed.

A token is `base64url(email) "." base64url(HMAC-SHA256(secret, purpose + email))`
with the secret from `[email] unsubscribe_secret_env`. Tokens do not expire:
a link in a digest months old must still work (RFC 8058 asks for links that
keep working), and what it can do (stop mail to that one address) is harmless
to replay. Changing the secret invalidates every link already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from aggregator.app.links import Purpose, signer_for
from aggregator.app.wiring import App
from aggregator.config.types import EmailConfig
from aggregator.domain.errors import BadLink, PLNError

__all__ = [
    "make_token",
    "make_unsubscribe_url",
    "token_from",
    "unsubscribe_address",
    "unsubscribe_link",
    "verify_token",
]

log = logging.getLogger(__name__)

# Binds a signature to this use, so the secret signing something else one day
# cannot make unsubscribe tokens.
_PURPOSE = b"pln-digest unsubscribe v1\x00"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: only the one spelling `_b64` writes decodes (the lenient stdlib
    decoder skips junk characters and accepts padding and stray bits)."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical spelling")
    return data


def _signature(secret: str, email: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + email.encode(), hashlib.sha256).digest()


def _secret(config: EmailConfig) -> str:
    if config.unsubscribe_secret is None:
        raise PLNError(
            "unsubscribe links need a secret: set [email] unsubscribe_secret_env "
            "and that environment variable"
        )
    return config.unsubscribe_secret.reveal()


def make_token(config: EmailConfig, email: str) -> str:
    """The url-safe token that unsubscribes `email`.

    Raises PLNError when `[email] unsubscribe_secret_env` is not set.
    """
    return f"{_b64(email.encode())}.{_b64(_signature(_secret(config), email))}"


def make_unsubscribe_url(config: EmailConfig, email: str) -> str | None:
    """`<public_url>/unsubscribe?token=...` for `email`, or None without a
    `public_url` or a secret (then digests carry no unsubscribe link)."""
    if not config.public_url or config.unsubscribe_secret is None:
        return None
    return f"{config.public_url}/unsubscribe?{urlencode({'token': make_token(config, email)})}"


def token_from(text: str) -> str:
    """The token in an unsubscribe URL (`...?token=T`, or `.../u/T` of the web
    pages), or `text` itself when it is a token."""
    text = text.strip()
    if "://" not in text:
        return text
    parts = urlsplit(text)
    tokens = parse_qs(parts.query).get("token", [])
    if tokens:
        return tokens[0]
    return parts.path.rstrip("/").rpartition("/")[2]


def verify_token(config: EmailConfig, token: str) -> str:
    """The address a genuine token unsubscribes.

    Raises PLNError when the token is malformed or its signature does not
    match (tampered with, or signed with another secret).
    """
    refused = PLNError(
        "not a valid unsubscribe link (altered, cut short, or signed with "
        "another unsubscribe secret)"
    )
    encoded, dot, signature = token.strip().partition(".")
    if not dot:
        raise refused
    try:
        email = _unb64(encoded).decode("utf-8")
        given = _unb64(signature)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise refused from exc
    if not hmac.compare_digest(given, _signature(_secret(config), email)):
        raise refused
    return email


def unsubscribe_link(app: App, link: str) -> tuple[str, bool]:
    """`pln unsubscribe`: stop the digests of the address a link (or token) names,
    a link of the web pages (`[web] secret_env`) or an older one
    (`[email] unsubscribe_secret_env`).

    Returns the address and whether it was subscribed until now. Raises
    PLNError for a link that is not genuine, StorageError for an address
    that is not a stored recipient.
    """
    email = _address_of(app, token_from(link))
    changed = app.repo.unsubscribe(email, app.clock())
    log.info("%s: %s", email, "unsubscribed" if changed else "was already unsubscribed")
    return email, changed


def _address_of(app: App, token: str) -> str:
    signer = signer_for(app.config, app.clock)
    if signer is not None:
        try:
            return signer.recipient_of(Purpose.UNSUBSCRIBE, token)
        except BadLink:
            pass  # perhaps a link of a digest sent before the web pages
    return verify_token(app.config.email, token)


def unsubscribe_address(app: App, email: str) -> bool:
    """Stop the digests of `email`, a configured recipient, at once (the web's
    one-click unsubscribe); False when it already was. Raises StorageError."""
    changed = app.repo.unsubscribe(email, app.clock())
    log.info("%s: %s", email, "unsubscribed" if changed else "was already unsubscribed")
    return changed

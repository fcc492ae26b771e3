"""Reading one raw email message: decoded headers and body parts, whatever
charset or encoding the sender used (RFC 5322, RFC 2045-2047).

Nothing here cleans HTML; `connectors.email_inbox.post` does that.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

__all__ = ["Envelope", "Mail", "UnreadableMessage", "decode_bytes", "read_message"]

# Mailers label cp1252 text "iso-8859-1" (Outlook's curly quotes at 0x92):
# read it as browsers do (WHATWG Encoding: latin1 is windows-1252). Text
# labelled ASCII, or not labelled, is UTF-8 more often than not.
_CHARSET_TRIES = {
    "iso-8859-1": ("cp1252",),
    "latin1": ("cp1252",),
    "latin-1": ("cp1252",),
    "us-ascii": ("utf-8",),
    "ascii": ("utf-8",),
    "": ("utf-8",),
}
_C1_AS_CP1252 = {chr(code): bytes([code]).decode("cp1252", "replace") for code in range(0x80, 0xA0)}
_IDENTITY_HEADERS = ("from", "date", "subject", "message-id")


class UnreadableMessage(ValueError):
    """The bytes are not an email message (no From, Date, Subject nor Message-ID)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The headers a post needs, decoded to plain str ("" when absent).

    `date` is aware UTC, or None when missing or unreadable; `list_id` is the
    List-Id header (RFC 2919) as written.
    """

    message_id: str
    subject: str
    sender_name: str
    sender_address: str
    date: datetime | None
    list_id: str
    language: str | None


@dataclass(frozen=True, slots=True)
class Mail:
    """A message: its envelope, its HTML part and its plain-text part
    (decoded text, either may be ""), and its headers by lower-case name."""

    envelope: Envelope
    html: str
    text: str
    headers: dict[str, str]


def read_message(raw: bytes) -> Mail:
    """Parse raw RFC 5322 bytes. Raises UnreadableMessage when they carry
    none of the headers every email has."""
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    if not any(name in message for name in _IDENTITY_HEADERS):
        raise UnreadableMessage("no From, Date, Subject or Message-ID header: not an email")
    headers = {name.lower(): _header_text(value) for name, value in message.items()}
    name, address = _sender(message)
    envelope = Envelope(
        message_id=headers.get("message-id", "").strip(),
        subject=headers.get("subject", ""),
        sender_name=name,
        sender_address=address,
        date=_date(headers.get("date", "")),
        list_id=headers.get("list-id", ""),
        language=headers.get("content-language", "").split(",")[0].strip() or None,
    )
    return Mail(envelope, _part_text(message, "html"), _part_text(message, "plain"), headers)


def _header_text(value: object) -> str:
    """A header as text: encoded words decoded; raw 8-bit bytes (which the
    parser keeps as surrogates) read as UTF-8, else cp1252."""
    text = str(value)
    if any("\udc80" <= char <= "\udcff" for char in text):
        text = decode_bytes(text.encode("utf-8", "surrogateescape"), "utf-8")
    if any("\x80" <= char <= "\x9f" for char in text):
        # C1 controls come from cp1252 text labelled ISO-8859-1 ("=96" for a dash).
        text = "".join(_C1_AS_CP1252.get(char, char) for char in text)
    return " ".join(text.split())


def _sender(message: Message) -> tuple[str, str]:
    """(display name, address) of From (Sender when From is missing)."""
    value = message.get("from") or message.get("sender")
    if value is None:
        return "", ""
    pairs = getaddresses([_header_text(value)])
    name, address = pairs[0] if pairs else ("", "")
    return name.strip(), address.strip().lower()


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": the zone is unknown (RFC 5322 §3.3); take UTC
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _part_text(message: EmailMessage, subtype: str) -> str:
    """The decoded text of the message's main text/`subtype` part, or ""."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset() or "")


def decode_bytes(data: bytes, charset: str) -> str:
    """`data` in its declared `charset`; undeclared, unknown or wrong
    charsets fall back to UTF-8, then cp1252 (which decodes any byte)."""
    label = charset.strip().lower()
    for candidate in _CHARSET_TRIES.get(label, (label, "utf-8")):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", "replace")

"""Sending digests: the email message, and mailers that send it (SMTP or files).

Messages are built with the standard library's email API (`EmailMessage`,
`policy.SMTP`, `headerregistry.Address`), never by pasting strings, so no
post title or recipient name can add a header: the policy refuses a header
value with a line break, and names are quoted as display names. Only the
`List-Unsubscribe` headers are written as given (`MESSAGE_POLICY`).

A `Mailer` tells the caller exactly how far a message got, since that
decides whether it may be sent again (see `aggregator.app.send`), with the
`DeliveryError` subclasses of `aggregator.domain.errors`: `TemporaryFailure`
(not accepted; try later), `ServerUnavailable` (a temporary failure that
the rest of the batch would meet too), `PermanentFailure` (refused, 5xx),
`UnknownOutcome` (the whole message went out but no answer came back: it
may have been accepted, RFC 1047). `on_commit` is called just before the
point of no return, the end-of-data mark.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import TracebackType
from typing import Protocol

from aggregator.config.types import EmailConfig
from aggregator.domain.address import address_problem, parse_mailbox
from aggregator.domain.errors import (
    DeliveryError,
    PermanentFailure,
    ServerUnavailable,
    TemporaryFailure,
    UnknownOutcome,
)
from aggregator.domain.recipient import RecipientConfig

__all__ = [
    "MESSAGE_POLICY",
    "FileMailer",
    "Mailer",
    "SmtpMailer",
    "build_message",
    "config_mailbox",
]

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30.0
_END_OF_DATA = b".\r\n"
# RFC 5322 2.1.1: a line SHOULD be at most 78 characters and MUST be at most 998.
_FOLD_AT = 78
_MAX_LINE = 998
# Headers whose value is a list of <URI>s, written on the wire as they are.
_URI_LISTS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


class _MessagePolicy(EmailPolicy):
    """`policy.SMTP` (CRLF, 78-character lines, RFC 2047 encoded words for
    non-ASCII text), except for the `List-Unsubscribe` headers.

    The email package folds a header by encoding it (RFC 2047) when it
    cannot break it at a space within 78 characters, and a signed unsubscribe
    URL is longer than that. Encoded words are not allowed in these headers
    (RFC 2369 2; RFC 2047 5 lists where they may appear), so a mail program
    would find no link and show no Unsubscribe button. They are written as
    given, folded only between two <URI>s (RFC 2369 2 allows it there).
    """

    def fold(self, name: str, value: str) -> str:
        """The header line(s), `linesep`-terminated; see the class docstring."""
        if name.lower() in _URI_LISTS:
            return _fold_uri_list(name, str(value), self.linesep)
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        """`fold`, as ASCII bytes."""
        if name.lower() in _URI_LISTS:
            return _fold_uri_list(name, str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


def _fold_uri_list(name: str, value: str, linesep: str) -> str:
    """`Name: <a>, <b>` on one line, or folded after a comma when longer than 78
    characters. Raises ValueError for a value that is not printable ASCII or
    a <URI> that cannot fit in a 998-character line."""
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{name}: only printable ASCII may be written as it is")
    items = value.split(", ")
    lines = [f"{name}:"]
    for index, item in enumerate(items):
        piece = item if index == len(items) - 1 else item + ","
        if index and len(lines[-1]) + 1 + len(piece) > _FOLD_AT:
            lines.append("")
        lines[-1] += " " + piece
    if any(len(line) > _MAX_LINE for line in lines):
        raise ValueError(f"{name}: a URI longer than a header line may be ({_MAX_LINE})")
    return linesep.join(lines) + linesep


# Bodies in quoted-printable or base64, never raw 8-bit: we do not ask the
# server for 8BITMIME. Header values with a line break are refused.
MESSAGE_POLICY = _MessagePolicy(linesep="\r\n", cte_type="7bit")
"""The policy of every message PLN Digest sends (digests and the health email)."""


class Mailer(Protocol):
    """Sends one message at a time; a seam for SMTP, files and tests."""

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        """Deliver `message` to its To address.

        `on_commit` runs just before the message is committed (the SMTP
        end-of-data mark, the file's rename); if it raises, the message is
        not committed and the exception propagates. Raises
        TemporaryFailure, PermanentFailure or UnknownOutcome.
        """

    def close(self) -> None:
        """Release the connection, if any."""


def _one_line(text: str) -> str:
    """Whitespace (line breaks included) collapsed and control characters
    blanked: a header value is one line of text (RFC 5322 2.2 allows no NUL
    or other control character in it)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def build_message(
    *,
    sender: str,
    recipient: RecipientConfig,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    unsubscribe_url: str | None = None,
    unsubscribe_mailto: str = "",
    list_id: str = "",
) -> EmailMessage:
    """The multipart/alternative (text, then HTML) digest email.

    `sender` is `[email] from` ("Name <address>"); the Message-ID uses its
    domain. With `unsubscribe_url` (https) the message carries RFC 8058
    one-click unsubscribe headers; `unsubscribe_mailto` adds a mailto: one;
    `list_id` (`list_id_for`) names the list, so filters and "unsubscribe"
    buttons know every digest as one list (RFC 2919).
    Raises PermanentFailure when an address is one no header can carry
    (`pln check` refuses those; see `aggregator.domain.address`).
    """
    name, address = config_mailbox(sender, "from")
    problem = address_problem(recipient.to_address)
    if problem is not None:
        raise PermanentFailure(
            f"cannot be sent to: the address {problem}; correct it in [[recipients]]"
        )
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = Address(display_name=_one_line(name), addr_spec=address)
    message["To"] = Address(display_name=_one_line(recipient.name), addr_spec=recipient.to_address)
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    links = [f"<{unsubscribe_url}>"] if unsubscribe_url else []
    if links and len(f"List-Unsubscribe: {links[0]},") > _MAX_LINE:
        raise PermanentFailure(
            f"the unsubscribe link is longer than a header line may be ({_MAX_LINE}): "
            "shorten [email] public_url"
        )
    if unsubscribe_mailto:
        links.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
    if links:
        message["List-Unsubscribe"] = ", ".join(links)
    if unsubscribe_url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if list_id:
        message["List-Id"] = list_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def config_mailbox(value: str, key: str) -> tuple[str, str]:
    """The display name and address of `[email] <key>` (`from`, `admin`).

    Raises PermanentFailure when it is no single address a header can carry.
    """
    try:
        return parse_mailbox(value)
    except ValueError as exc:
        raise PermanentFailure(f"[email] {key} {exc}; correct it and run pln check") from exc


def envelope_recipient(message: EmailMessage) -> str:
    """The address the message's To header names (the SMTP RCPT TO)."""
    return str(message["To"].addresses[0].addr_spec)


class FileMailer:
    """Writes each message to `folder` as `<Message-ID>.eml` (for trying things out)."""

    def __init__(self, folder: Path) -> None:
        """Write into `folder`, created when needed."""
        self.folder = folder

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        """Write the message; the rename that makes the file appear is the commit."""
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", str(message["Message-ID"]).strip("<>"))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as tmp:
                tmp.write(message.as_bytes())
        except OSError as exc:
            raise ServerUnavailable(f"cannot write to {self.folder}: {exc.strerror}") from exc
        try:
            on_commit()
            os.replace(tmp.name, self.folder / f"{name}.eml")
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> FileMailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SmtpMailer:
    """SMTP with STARTTLS, implicit TLS or neither, and a login from the Secret.

    One connection is opened on the first message and reused for the whole
    batch; a connection the server dropped is opened again for the next
    message. Close it (or use `with`) at the end of the batch.
    """

    def __init__(
        self,
        config: EmailConfig,
        timeout_s: float = SMTP_TIMEOUT_S,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls` replaces the default verifying context (tests trust their own CA)."""
        self.config = config
        self.timeout_s = timeout_s
        self._tls = tls
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the server already went: nothing to say goodbye to

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        """Send `message` (see `Mailer.send`); raises the failures listed there."""
        recipient = envelope_recipient(message)
        sender = config_mailbox(self.config.from_address, "from")[1]
        reused = self._smtp is not None
        try:
            smtp = self._open_transaction(sender, recipient)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            if not reused:
                raise ServerUnavailable(f"{self._where()} closed the connection") from exc
            # An idle connection the server timed out: nothing was sent yet, so
            # one new connection is tried.
            try:
                smtp = self._open_transaction(sender, recipient)
            except smtplib.SMTPServerDisconnected as again:
                self._drop()
                raise ServerUnavailable(f"{self._where()} closed the connection") from again
        self._send_data(smtp, recipient, message, on_commit)

    # -- the SMTP conversation ----------------------------------------------------

    def _where(self) -> str:
        return f"SMTP server {self.config.smtp_host}:{self.config.smtp_port}"

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        """A connected, secured and logged-in session; raises ServerUnavailable."""
        cfg = self.config
        context = self._tls or ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if cfg.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    cfg.smtp_host, cfg.smtp_port, timeout=self.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=self.timeout_s)
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.username:
                password = cfg.password.reveal() if cfg.password else ""
                smtp.login(cfg.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            hint = f"; check {cfg.password.env_name}" if cfg.password else ""
            raise ServerUnavailable(
                f"{self._where()} refused the login of {cfg.username} ({exc.smtp_code}){hint}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(smtp)
            raise ServerUnavailable(f"cannot use {self._where()}: {_reason(exc)}") from exc
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _close_quietly(smtp)

    def _open_transaction(self, sender: str, recipient: str) -> smtplib.SMTP:
        """MAIL, RCPT and DATA up to the server's 354; raises SMTPServerDisconnected
        (for `send` to reconnect) or a failure when the server refuses."""
        smtp = self._connection()
        try:
            for command, ok in (
                (f"MAIL FROM:<{sender}>", (250,)),
                (f"RCPT TO:<{recipient}>", (250, 251)),
                ("DATA", (354,)),
            ):
                code, reply = smtp.docmd(command)
                if code not in ok:
                    self._reset(smtp)
                    raise _refusal(recipient, code, reply)
        except smtplib.SMTPServerDisconnected:
            raise
        except OSError as exc:
            self._drop()
            raise TemporaryFailure(f"{recipient}: {self._where()}: {_reason(exc)}") from exc
        return smtp

    def _send_data(
        self,
        smtp: smtplib.SMTP,
        recipient: str,
        message: EmailMessage,
        on_commit: Callable[[], None],
    ) -> None:
        """The message, then (after `on_commit`) the end-of-data mark and the answer.

        How far the message got is read from the connection itself, never
        guessed from timing: a write that fails (the server hung up, or reset
        the connection) means the end-of-data mark never left, and nothing
        can have been accepted (RFC 5321 4.1.1.4); once the mark has been
        written, only the server's answer tells.
        """
        data = re.sub(rb"(?m)^\.", b"..", message.as_bytes())  # RFC 5321 4.5.2
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        try:
            smtp.send(data)
            on_commit()
            smtp.send(_END_OF_DATA)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TemporaryFailure(
                f"{recipient}: connection lost while sending ({_reason(exc)})"
            ) from exc
        except BaseException:
            self._drop()  # the only way to abandon a DATA transaction
            raise
        try:
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise UnknownOutcome(
                f"{recipient}: the whole message was sent but "
                f"{self._where()} did not answer ({_reason(exc)})"
            ) from exc
        if code != 250:
            raise _refusal(recipient, code, reply)
        log.info("%s: accepted by %s: %s", recipient, self._where(), _text(reply))

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """RSET after a refusal, so the connection serves the next recipient."""
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _refusal(recipient: str, code: int, reply: bytes) -> DeliveryError:
    message = f"{recipient}: refused ({code} {_text(reply)})"
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return _one_line(text)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return _one_line(str(exc)) or type(exc).__name__


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()

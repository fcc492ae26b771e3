"""IMAP for the `email_inbox` connector: a TLS connection, the login, and
reading new messages by UID without changing the mailbox (RFC 3501).

TLS rule: port 993 is implicit TLS (`IMAP4_SSL`, RFC 8314 §3.3). On any
other port the connection starts in clear and is upgraded with STARTTLS
when the server offers it; a server that does not offer it gets no
password, unless it is on a loopback address (a test server, or a local
proxy such as davmail/ProtonMail Bridge), where nothing crosses a network.
Certificates are verified against the system's CAs (or the `ssl_context`
given), host name included.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from aggregator.domain.errors import AuthError, FetchError, ParseError, SourceError
from aggregator.domain.hosts import is_loopback

__all__ = ["IMPLICIT_TLS_PORTS", "ImapAccount", "MailboxReader", "open_mailbox"]

log = logging.getLogger(__name__)

IMPLICIT_TLS_PORTS = frozenset({993})
"""Ports spoken in TLS from the first byte; every other port uses STARTTLS."""

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FETCH_BATCH = 25  # messages per UID FETCH: few round trips, bounded memory


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """Where and as whom to log in. `password` is the revealed secret, kept
    only for the LOGIN command; `password_env` names it in messages."""

    source_key: str
    host: str
    port: int
    username: str
    password: str
    password_env: str
    mailbox: str = "INBOX"
    timeout_s: float = 20.0

    def __repr__(self) -> str:
        return f"ImapAccount({self.username}@{self.host}:{self.port}, password=<redacted>)"


class MailboxReader:
    """A logged-in connection with one mailbox selected.

    `uidvalidity` is the mailbox's UIDVALIDITY: UIDs are only comparable
    while it stays the same (RFC 3501 §2.3.1.1).
    """

    def __init__(self, conn: imaplib.IMAP4, account: ImapAccount, uidvalidity: int) -> None:
        self._conn = conn
        self._account = account
        self.uidvalidity = uidvalidity

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than `last_uid`, ascending."""
        data = self._command("SEARCH", f"UID {last_uid + 1}:*")
        found = {int(n) for line in data if isinstance(line, bytes) for n in line.split()}
        # "n:*" always matches the highest UID, even when it is below n (RFC 3501 §6.4.8).
        return sorted(uid for uid in found if uid > last_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """Each message's size in bytes (RFC822.SIZE), by UID."""
        sizes: dict[int, int] = {}
        for batch in _batches(uids):
            for line in self._command("FETCH", _uid_set(batch), "(UID RFC822.SIZE)"):
                head = line[0] if isinstance(line, tuple) else line
                uid, size = _UID.search(head or b""), _SIZE.search(head or b"")
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def messages(self, uids: list[int], max_bytes: int) -> Iterator[tuple[int, bytes]]:
        """(uid, raw message) for each UID, read with BODY.PEEK so no \\Seen
        flag is set; at most `max_bytes + 1` bytes of each are transferred."""
        for batch in _batches(uids):
            data = self._command("FETCH", _uid_set(batch), f"(UID BODY.PEEK[]<0.{max_bytes + 1}>)")
            yield from _literals(data)

    def mark_seen(self, uids: list[int]) -> None:
        """Set \\Seen on these messages (only when the source says mark_read)."""
        for batch in _batches(uids):
            self._command("STORE", _uid_set(batch), "+FLAGS.SILENT", r"(\Seen)")

    def _command(self, name: str, *args: str) -> list[bytes | tuple[bytes, bytes] | None]:
        typ, data = self._conn.uid(name, *args)
        if typ != "OK":
            raise FetchError(self._account.source_key, f"IMAP UID {name} failed: {_said(data)}")
        return list(data)


@contextlib.contextmanager
def open_mailbox(
    account: ImapAccount, *, writable: bool = False, ssl_context: ssl.SSLContext | None = None
) -> Iterator[MailboxReader]:
    """Connect, log in and select `account.mailbox` (EXAMINE: read-only,
    unless `writable`); log out at the end.

    Raises AuthError (login refused), FetchError (network, TLS, timeout,
    no STARTTLS on a remote server, unknown mailbox) or ParseError (no
    UIDVALIDITY).
    """
    context = ssl_context or ssl.create_default_context()
    with imap_errors(account):
        conn = _connect(account, context)
        done = False
        try:
            _login(conn, account)
            yield MailboxReader(conn, account, _select(conn, account, writable))
            done = True
        finally:
            # After a failure the server may be the problem: close, do not wait for it.
            _logout(conn, account.source_key) if done else _close(conn, account.source_key)


@contextlib.contextmanager
def imap_errors(account: ImapAccount) -> Iterator[None]:
    """Translate socket, TLS and imaplib failures into one-line FetchErrors."""
    try:
        yield
    except SourceError:
        raise
    except (OSError, imaplib.IMAP4.error) as exc:
        raise FetchError(account.source_key, _describe(exc, account)) from exc


def _describe(exc: OSError | imaplib.IMAP4.error, account: ImapAccount) -> str:
    """A one-line, secret-free description of a connection failure."""
    where = f"{account.host}:{account.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS error: the certificate of {where} cannot be verified ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where}: {exc.reason or type(exc).__name__}"
    if isinstance(exc, TimeoutError):
        return f"IMAP server {where} timed out after {account.timeout_s:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {where} refused: is the server down, or the port wrong?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {account.host}"
    if isinstance(exc, imaplib.IMAP4.abort):
        return f"the IMAP connection to {where} broke: {_scrub(exc, account)}"
    if isinstance(exc, OSError):
        return f"network error with {where}: {exc.strerror or type(exc).__name__}"
    return f"IMAP error from {where}: {_scrub(exc, account)}"


def _connect(account: ImapAccount, context: ssl.SSLContext) -> imaplib.IMAP4:
    """An open connection, in TLS unless the host is loopback and offers no STARTTLS."""
    host, port, timeout = account.host, account.port, account.timeout_s
    if port in IMPLICIT_TLS_PORTS:
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
    conn = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        if "STARTTLS" in conn.capabilities:
            conn.starttls(ssl_context=context)
        elif not is_loopback(host):
            raise FetchError(
                account.source_key,
                f"{host}:{port} offers no TLS (STARTTLS): "
                "refusing to send the password in clear; use port 993",
            )
    except BaseException:
        _close(conn, account.source_key)
        raise
    return conn


def _login(conn: imaplib.IMAP4, account: ImapAccount) -> None:
    refused = (
        f"IMAP login refused for {account.username}@{account.host}: check {account.password_env}"
    )
    try:
        conn.login(account.username, account.password)
    except UnicodeEncodeError as exc:  # imaplib sends LOGIN arguments as ASCII
        raise AuthError(
            account.source_key,
            f"{refused} (IMAP LOGIN takes ASCII only; "
            "the user name or password has other characters)",
        ) from exc
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        said = _scrub(exc, account)
        raise AuthError(account.source_key, f"{refused} (server said: {said})") from exc


def _select(conn: imaplib.IMAP4, account: ImapAccount, writable: bool) -> int:
    """Select the mailbox; its UIDVALIDITY."""
    typ, data = conn.select(_quote(encode_mailbox(account.mailbox)), readonly=not writable)
    if typ != "OK":
        raise FetchError(
            account.source_key,
            f"cannot open mailbox {account.mailbox!r} on "
            f"{account.host}: {_said(data)}; check the mailbox option",
        )
    _, values = conn.response("UIDVALIDITY")
    value = values[0] if values else None
    if not isinstance(value, bytes) or not value.strip().isdigit():
        raise ParseError(
            account.source_key, f"{account.host} sent no UIDVALIDITY for {account.mailbox!r}"
        )
    return int(value)


def _logout(conn: imaplib.IMAP4, source_key: str) -> None:
    # The work is done: a broken LOGOUT changes nothing, but the socket must close.
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError) as exc:
        log.debug("%s: IMAP logout failed: %s", source_key, type(exc).__name__)
        _close(conn, source_key)


def _close(conn: imaplib.IMAP4, source_key: str) -> None:
    try:
        conn.shutdown()
    except OSError as exc:  # already closed by the peer: nothing left to release
        log.debug("%s: closing the IMAP connection: %s", source_key, type(exc).__name__)


def encode_mailbox(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + raw.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _quote(name: str) -> str:
    # imaplib sends arguments as written: a name with a space must be quoted.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literals(data: list[bytes | tuple[bytes, bytes] | None]) -> Iterator[tuple[int, bytes]]:
    """(uid, literal) from a FETCH answer; the UID may come before or after
    the literal (`b'1 (UID 5 BODY[] {n}'` or `b' UID 5)'` next)."""
    for index, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        head, body = item
        found = _UID.search(head)
        if found is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
            found = _UID.search(data[index + 1])  # type: ignore[arg-type]
        if found is not None:
            yield int(found.group(1)), body


def _batches(uids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(uids), _FETCH_BATCH):
        yield uids[start : start + _FETCH_BATCH]


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _said(data: object) -> str:
    """The server's reply text, one short line."""
    items = data if isinstance(data, list) else [data]
    text = " ".join(i.decode("utf-8", "replace") if isinstance(i, bytes) else str(i) for i in items)
    return " ".join(text.split())[:150]


def _scrub(exc: BaseException, account: ImapAccount) -> str:
    """An imaplib error's text, one line, without the password even if echoed."""
    text = str(exc)
    if account.password:
        text = text.replace(account.password, "<redacted>")
    return " ".join(text.split())[:150]

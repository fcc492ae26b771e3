"""The `email_inbox` connector: new messages of an IMAP mailbox as posts
(newsletters and Facebook group notifications).

The mailbox is read, never changed: it is opened with EXAMINE and messages
are read with BODY.PEEK, so no \\Seen flag is set, unless the source says
`mark_read = true`. The cursor `imap:<uidvalidity>:<last uid>` makes a
run read only messages it has not read before; when UIDVALIDITY changes
(the mailbox was recreated, RFC 3501 §2.3.1.1) the UIDs mean nothing any
more and the newest messages are read again: their external id is the
Message-ID, so ingest stores no duplicate.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass, field
from typing import ClassVar

from aggregator.domain.errors import AuthError, FetchError, SourceError
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.email_inbox.imap import ImapAccount, MailboxReader, open_mailbox
from connectors.email_inbox.post import message_to_post

__all__ = ["MAX_MESSAGES_PER_RUN", "EmailInboxConnector", "format_cursor", "parse_cursor"]

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_RUN = 200
"""At most this many messages are read per fetch; the rest wait for the next one."""

_CURSOR = re.compile(r"^imap:(\d+):(\d+)$")
_MAX_LISTED = 3  # skipped messages named in the problem line


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    """(uidvalidity, last uid read) from "imap:<uidvalidity>:<uid>", or None."""
    found = _CURSOR.match(cursor or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def format_cursor(uidvalidity: int, last_uid: int) -> str:
    """The cursor stored after a fetch (see `parse_cursor`)."""
    return f"imap:{uidvalidity}:{last_uid}"


@dataclass
class _Run:
    """What one fetch has read so far."""

    posts: list[Post] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    done: list[int] = field(default_factory=list)


class EmailInboxConnector:
    """Reads new messages of one IMAP mailbox per source.

    Options: `host`, `port` (993: TLS; other ports: STARTTLS, see
    `connectors.email_inbox.imap`), `username`, `password_env`, `mailbox`
    (INBOX), `mark_read` (false). `ssl_context` replaces the system trust
    store (tests use it to trust their server's self-signed certificate).
    """

    kind: ClassVar[str] = "email_inbox"

    def __init__(self, ctx: ConnectorContext, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ctx = ctx
        self._ssl = ssl_context

    def fetch(self, source: SourceConfig, state: FetchState) -> FetchResult:
        """Read the messages that arrived since `state.cursor`.

        At most MAX_MESSAGES_PER_RUN messages, oldest first (newest first on
        the first run or after a UIDVALIDITY change, when old mail matters
        least). A message over `fetch.max_body_bytes` or that is not an
        email is skipped and named in `problem`. Raises AuthError (login
        refused, password unset) or FetchError (network, TLS, timeout,
        unknown mailbox).
        """
        account = self._account(source)
        mark_read = source.option("mark_read", "false") == "true"
        known = parse_cursor(state.cursor)
        with open_mailbox(account, writable=mark_read, ssl_context=self._ssl) as box:
            same = known is not None and known[0] == box.uidvalidity
            last_uid = known[1] if known is not None and same else 0
            new = box.uids_after(last_uid)
            chosen = new[:MAX_MESSAGES_PER_RUN] if same else new[-MAX_MESSAGES_PER_RUN:]
            if known is not None and not same:
                log.info(
                    "%s: UIDVALIDITY changed (%s -> %s): reading the mailbox again",
                    source.key,
                    known[0],
                    box.uidvalidity,
                )
            run = self._read(source.key, box, chosen)
            if mark_read and run.done:
                box.mark_seen(run.done)
        if len(new) > len(chosen):
            log.info("%s: %d messages left for the next run", source.key, len(new) - len(chosen))
        cursor = format_cursor(box.uidvalidity, max(chosen, default=last_uid))
        problem = _problem(run, len(chosen))
        return FetchResult(posts=tuple(run.posts), cursor=cursor, problem=problem)

    def check(self, source: SourceConfig) -> list[str]:
        """Log in and EXAMINE the mailbox: [] when that works, else the problem."""
        try:
            with open_mailbox(self._account(source), ssl_context=self._ssl):
                return []
        except SourceError as exc:
            return [exc.message]

    def _account(self, source: SourceConfig) -> ImapAccount:
        env_name = source.option("password_env")
        secret = self._ctx.config.secret(env_name) if env_name else None
        if secret is None:
            raise AuthError(
                source.key,
                f"the IMAP password is not set: put it in the "
                f"environment variable {env_name or '(password_env)'}",
            )
        port = source.option("port", "993")
        if not port.isdigit():
            raise FetchError(source.key, f"port {port!r} is not a number")
        return ImapAccount(
            source_key=source.key,
            host=source.option("host"),
            port=int(port),
            username=source.option("username"),
            password=secret.reveal(),
            password_env=env_name,
            mailbox=source.option("mailbox", "INBOX") or "INBOX",
            timeout_s=self._ctx.config.fetch.timeout_seconds,
        )

    def _read(self, source_key: str, box: MailboxReader, uids: list[int]) -> _Run:
        """Turn the messages into posts; oversized or unreadable ones are skipped."""
        run = _Run()
        limit = self._ctx.config.fetch.max_body_bytes
        sizes = box.sizes(uids)
        too_big = {uid for uid in uids if sizes.get(uid, 0) > limit}
        for uid in sorted(too_big):
            run.skipped.append(f"UID {uid} is larger than fetch.max_body_bytes ({limit} bytes)")
            run.done.append(uid)
        small = [uid for uid in uids if uid not in too_big]
        for uid, raw in box.messages(small, limit):
            run.done.append(uid)
            if len(raw) > limit:  # the server understated RFC822.SIZE
                run.skipped.append(f"UID {uid} is larger than fetch.max_body_bytes ({limit} bytes)")
                continue
            post = self._to_post(source_key, box.uidvalidity, uid, raw)
            if isinstance(post, Post):
                run.posts.append(post)
            else:
                run.skipped.append(post)
        return run

    def _to_post(self, source_key: str, uidvalidity: int, uid: int, raw: bytes) -> Post | str:
        """The post, or why the message was skipped."""
        try:
            return message_to_post(raw, source_key, f"{uidvalidity}:{uid}", self._ctx.clock())
        except Exception as exc:  # one bad message must not lose the others
            log.warning("%s: skipped message UID %d: %s", source_key, uid, exc, exc_info=True)
            return f"UID {uid} cannot be read as an email ({exc})"


def _problem(run: _Run, total: int) -> str | None:
    if not run.skipped:
        return None
    listed = "; ".join(run.skipped[:_MAX_LISTED])
    more = f" (and {len(run.skipped) - _MAX_LISTED} more)" if len(run.skipped) > _MAX_LISTED else ""
    return f"skipped {len(run.skipped)} of {total} messages: {listed}{more}"

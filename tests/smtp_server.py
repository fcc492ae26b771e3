"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and
can be told to refuse, or to drop the connection, for given recipients."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Script:
    """What the server does, per recipient address; each list entry is used once.

    `rcpt`: replies to RCPT TO ("451 4.3.0 busy", "550 5.1.1 unknown user").
    `drop_mid_data`: times to answer DATA with 354 and then hang up (a TCP
    reset) before the message ends, nothing accepted; `hung_up` is set once
    the connection is closed, so a test can hold the end-of-data mark until
    then. `drop_after_data`: times to take the whole message, keep it, and
    hang up before answering (accepted, but the client cannot know).
    """

    rcpt: dict[str, list[str]] = field(default_factory=dict)
    drop_mid_data: dict[str, int] = field(default_factory=dict)
    drop_after_data: dict[str, int] = field(default_factory=dict)
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    raw: list[tuple[list[str], bytes]] = field(default_factory=list)
    """The bytes of each accepted message as they arrived (dot-stuffing undone)."""
    on_accept: Callable[[], None] | None = None
    """Run (on the server's thread) once a message is taken, before the 250."""
    connections: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)
    stall_rcpt: dict[str, int] = field(default_factory=dict)
    """Times to never answer RCPT TO for an address (a server that hangs)."""
    stalled: list[tuple[str, int]] = field(default_factory=list)
    """The client address (host, port) of each connection left hanging."""
    stalled_event: threading.Event = field(default_factory=threading.Event)

    def take(self, counts: dict[str, int], rcpts: list[str]) -> bool:
        for address in rcpts:
            if counts.get(address, 0) > 0:
                counts[address] -= 1
                return True
        return False

    def to(self, address: str) -> list[EmailMessage]:
        """The messages accepted for `address`."""
        return [message for rcpts, message in self.received if address in rcpts]

    def raw_to(self, address: str) -> list[bytes]:
        """The bytes of the messages accepted for `address`, as the wire carried them."""
        return [content for rcpts, content in self.raw if address in rcpts]

    # -- aiosmtpd handler hooks --

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.take(self.stall_rcpt, [address]):
            self.stalled.append(tuple(session.peer[:2]))  # type: ignore[arg-type]
            self.stalled_event.set()
            await asyncio.sleep(3600)  # until the client is gone and the server stops
        replies = self.rcpt.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        self.raw.append((list(envelope.rcpt_tos), content))
        if self.on_accept is not None:
            self.on_accept()
        if self.take(self.drop_after_data, list(envelope.rcpt_tos)):
            assert server.transport is not None
            server.transport.abort()
        return "250 2.0.0 queued"


class _ScriptedSMTP(SMTP):
    async def smtp_DATA(self, arg: str) -> None:
        script: Script = self.event_handler
        if self.envelope is not None and script.take(
            script.drop_mid_data, list(self.envelope.rcpt_tos)
        ):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            assert self.transport is not None and self.loop is not None
            # SO_LINGER 0: the close resets the connection (a crash or a kill
            # does the same), so the client's next write fails.
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()  # closes the socket at the loop's next turn...
            self.loop.call_soon(script.hung_up.set)  # ...before this runs
            return
        await super().smtp_DATA(arg)

    def connection_made(self, transport: Any) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _ScriptedSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(script: Script, **smtp_kwargs: Any) -> Iterator[int]:
    """Run the server on 127.0.0.1 for the block; yields its port."""
    port = free_port()
    controller = _Controller(script, hostname="127.0.0.1", port=port, **smtp_kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()

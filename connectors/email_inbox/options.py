"""The `email_inbox` kind as the configuration sees it: the network and its options."""

from __future__ import annotations

from aggregator.config.read import is_hostname
from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("email", "Email")


def host(value: str) -> str:
    """The IMAP server's host name."""
    if not is_hostname(value):
        raise ValueError("not a host name, like imap.school.org")
    return value


OPTIONS = {
    "host": Option(required=True, normalize=host, help="The IMAP server, like imap.gmail.com"),
    "port": Option("port", default="993", help="The IMAP port over TLS, usually 993"),
    "username": Option(required=True, help="The mailbox's sign-in name"),
    "password_env": Option(
        "env", required=True, help="The environment variable holding the mailbox's password"
    ),
    "mailbox": Option(default="INBOX", help="The folder the newsletters arrive in"),
    "mark_read": Option("bool", default="false", help="Mark each newsletter read once fetched"),
}
"""`email_inbox`: the newsletters arriving in one IMAP mailbox."""

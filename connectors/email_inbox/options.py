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
    "host": Option(required=True, normalize=host),
    "port": Option("port", default="993"),
    "username": Option(required=True),
    "password_env": Option("env", required=True),
    "mailbox": Option(default="INBOX"),
    "mark_read": Option("bool", default="false"),
}
"""`email_inbox`: the newsletters arriving in one IMAP mailbox."""

"""Host names as the rules about trusting a server see them."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1.

    The only hosts a password may be sent to without TLS. Names are not
    resolved (DNS could lie), so `localhost.evil.example` is not one.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

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


DEFAULT_LISTEN = "127.0.0.1:8080"
"""Where the web pages are served when `[web] listen` does not say."""


def split_listen(listen: str) -> tuple[str, int]:
    """`"127.0.0.1:8080"` -> `("127.0.0.1", 8080)`; `"[::1]:8080"` -> `("::1", 8080)`.

    Raises ValueError naming the expected form when `listen` is not HOST:PORT
    with a port from 1 to 65535.
    """
    host, colon, port = listen.strip().rpartition(":")
    host = host.strip("[]") if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{listen!r} is not HOST:PORT, like 127.0.0.1:8080 or [::1]:8080")
    if ":" in host and not listen.strip().startswith("["):
        raise ValueError(f"{listen!r}: write an IPv6 address in brackets, like [::1]:8080")
    return host, int(port)

"""Email addresses: the one rule for an address PLN Digest sends to or from.

`pln check` applies it to every address in the configuration, and the code
that builds a message applies it again, so an address the check accepted
always makes a valid header and SMTP envelope. It is the standard library's
own parser (`email.headerregistry.Address`, what the headers are built
with) plus what that parser lets through but the wire does not:

- ASCII only: digests are sent without the SMTPUTF8 extension (RFC 6531),
  so an international domain is written in its `xn--` form;
- a dot-atom before the @ (RFC 5322 3.4.1: no quotes, no leading, trailing
  or doubled dot), a host name after it;
- at most 64 characters before the @ and 254 in all (RFC 5321 4.5.3.1).

An address is one identity whatever its case (`identity`): deliveries,
unsubscribes and recipients are recorded under the lower-case form, while
the To header shows the address as it was written.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from typing import cast

MAX_ADDRESS_CHARS = 254
"""RFC 5321 4.5.3.1.3: a path is at most 256 characters, its < and > included."""
MAX_LOCAL_CHARS = 64
"""RFC 5321 4.5.3.1.1: the part before the @."""

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 3.2.3
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_HEADERS = HeaderRegistry()
_ALLOWED_LOCAL = "letters, digits, single dots and !#$%&'*+-/=?^_`{|}~"


def identity(address: str) -> str:
    """The form under which `address` is recorded: lower case, so that
    Ana@School.org and ana@school.org are one recipient."""
    return address.strip().lower()


def address_problem(address: str) -> str | None:
    """Why mail cannot go to (or come from) the plain address `address`, in
    words an admin can act on; None when it can."""
    if not address:
        return "is empty"
    odd = next((c for c in address if not c.isprintable() or c.isspace()), None)
    if odd is not None:
        return f"contains a space or control character ({_named(odd)})"
    if not address.isascii():
        foreign = next(c for c in address if not c.isascii())
        return (
            f"contains {foreign!r}, and only ASCII addresses can be sent to "
            "(write an international domain in its xn-- form)"
        )
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "needs a name, an @ and a domain, like ana@school.org"
    return _local_problem(local) or _domain_problem(domain) or _length_problem(address, local)


def parse_mailbox(mailbox: str) -> tuple[str, str]:
    """The display name and address of `mailbox` ("Name <address>" or a plain
    address, as `[email] from` and `admin` take), parsed as the From and To
    headers parse it. Raises ValueError saying what is wrong."""
    if "\r" in mailbox or "\n" in mailbox:
        raise ValueError("must be one line: a line break would start another header")
    text = mailbox.strip()
    if "<" not in text:  # a plain address: checked as written, not as the parser mends it
        problem = address_problem(text)
        if problem is not None:
            raise ValueError(f"the address {problem}")
        return "", text
    one = ValueError("must be one address, like PLN Digest <digest@school.org>")
    header = _HEADERS("to", text)
    parsed = cast(AddressHeader, header)  # what the registry makes of a To header
    if len(parsed.addresses) != 1 or parsed.groups[0].display_name:
        raise one
    name, address = parsed.addresses[0].display_name, parsed.addresses[0].addr_spec
    problem = address_problem(address)
    if problem is not None:
        raise ValueError(f"the address {problem}")
    if header.defects:
        raise one
    odd = next((c for c in name if not c.isprintable()), None)
    if odd is not None:
        raise ValueError(f"the name contains a control character ({_named(odd)})")
    return name, address


def mailbox_problem(mailbox: str) -> str | None:
    """Why `mailbox` cannot head a message (see `parse_mailbox`); None when it can."""
    try:
        parse_mailbox(mailbox)
    except ValueError as exc:
        return str(exc)
    return None


def _local_problem(local: str) -> str | None:
    if "@" in local:
        return "has more than one @"
    for atom in local.split("."):
        if not atom:
            return "has a dot at the start or end of the name, or two dots in a row"
        if not _ATEXT.fullmatch(atom):
            odd = next(c for c in atom if not _ATEXT.fullmatch(c))
            return f"contains {odd!r} before the @, where only {_ALLOWED_LOCAL} may appear"
    return None


def _domain_problem(domain: str) -> str | None:
    if not all(_LABEL.fullmatch(label) for label in domain.split(".")):
        return f"has {domain!r} after the @, which is not a host name like school.org"
    return None


def _length_problem(address: str, local: str) -> str | None:
    if len(local) > MAX_LOCAL_CHARS:
        return f"has more than {MAX_LOCAL_CHARS} characters before the @"
    if len(address) > MAX_ADDRESS_CHARS:
        return f"is longer than {MAX_ADDRESS_CHARS} characters"
    try:  # what the headers are built with: the rules above are meant to imply it
        Address(addr_spec=address)
    except (ValueError, IndexError) as exc:  # HeaderDefect is a ValueError
        return f"is not an address an email header can carry ({_one_line(str(exc))})"
    return None


def _named(char: str) -> str:
    return f"U+{ord(char):04X}"


def _one_line(text: str) -> str:
    return " ".join(text.split())

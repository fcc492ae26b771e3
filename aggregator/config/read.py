"""Reading a parsed TOML document while collecting line-numbered problems.

`tomllib` returns values but no positions, so `LineMap` scans the text once
for table headers and `key =` lines, and every problem is
reported at the line of the nearest key or table it concerns. `Table` reads
typed values out of one table; each wrong value becomes a `Problem` and a
default, so validation goes on and the admin sees every problem at once.
The host and address checks shared by several sections live here too.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from aggregator.domain.address import address_problem, mailbox_problem
from aggregator.domain.errors import Problem

KeyPath = tuple[str | int, ...]
"""A key's place in the document; ints are 0-based array (of tables) indexes."""

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_TABLE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]\s*(?:#.*)?$")
_TABLE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=(.*)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAMES = frozenset({"password", "passwd", "token", "secret", "api_key", "apikey"})
_SECRET_ENDINGS = ("_password", "_token", "_secret")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def format_path(path: KeyPath) -> str:
    """`("sources", 2, "url")` -> `sources[3].url`: admins count from 1."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else part
    return text


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in re.findall(_KEY_PART, text))


class LineMap:
    """Maps key paths to the 1-based line that sets them.

    Good enough for hand-written files: table headers, `[[array]]` headers
    (counted, so the third `[[sources]]` is index 2), dotted keys, and
    multi-line strings are skipped. Inline tables are not looked into.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._counts: dict[tuple[str, ...], int] = {}
        table: KeyPath = ()
        closing = ""  # the delimiter ending the multi-line string we are in
        for number, line in enumerate(text.splitlines(), start=1):
            if closing:
                closing = "" if line.count(closing) % 2 else closing
                continue
            if match := _ARRAY_TABLE.match(line):
                names = _split_dotted(match.group(1))
                self._counts[names] = self._counts.get(names, -1) + 1
                table = self._resolve(names)
                self._lines.setdefault(table[:-1], number)
            elif match := _TABLE.match(line):
                table = self._resolve(_split_dotted(match.group(1)))
            elif match := _KEY.match(line):
                self._lines.setdefault(table + _split_dotted(match.group(1)), number)
                closing = _opens_multiline(match.group(2))
                continue
            else:
                continue
            self._lines.setdefault(table, number)

    def _resolve(self, names: tuple[str, ...]) -> KeyPath:
        """Insert the current index after every array-of-tables name."""
        path: list[str | int] = []
        for depth, name in enumerate(names, start=1):
            path.append(name)
            if names[:depth] in self._counts:
                path.append(self._counts[names[:depth]])
        return tuple(path)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, else of its nearest enclosing key or table."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return None


def _opens_multiline(value: str) -> str:
    for delimiter in ('"""', "'''"):
        if value.count(delimiter) % 2:
            return delimiter
    return ""


@dataclass
class Report:
    """The problems found so far, each placed on its line."""

    lines: LineMap
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: KeyPath, message: str, line: int | None = None) -> None:
        """Record a problem at `path` (at `line` when the path is not in the file)."""
        found = self.lines.line_of(path)
        self.problems.append(Problem(found or line, format_path(path), message))


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """` (did you mean 'X'?)` when a choice is close to `word`, else ``."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def looks_secret(key: str) -> bool:
    """Whether a key's name says it holds a secret written directly."""
    lowered = key.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_ENDINGS)


def is_hostname(name: str) -> bool:
    """A DNS host name (letters, digits, hyphens; dotted labels) or an IP address."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        labels = name.rstrip(".").split(".")
        return len(name) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def is_address(address: str) -> bool:
    """A plain email address `local@domain` (no display name) mail can be sent to."""
    return address_problem(address) is None


def address_message(address: str, example: str) -> str | None:
    """What `pln check` says about an address mail cannot be sent to (the rule
    the message headers apply, `aggregator.domain.address`); None when it can."""
    problem = address_problem(address)
    if problem is None:
        return None
    if "@" not in address:
        return f"not an email address, like {example}"
    return f"cannot be sent to: the address {problem}"


def mailbox_message(mailbox: str, example: str) -> str | None:
    """`address_message` for "Name <address>" values (`[email] from`, `admin`)."""
    problem = mailbox_problem(mailbox)
    if problem is None:
        return None
    if "@" not in mailbox:
        return f"not an email address, like {example}"
    return problem


def check_private_entry(entry: str) -> str | None:
    """None when `entry` is a host, host:port, IP or CIDR network; else why not."""
    if "://" in entry:
        return f"{entry!r} is not a host, host:port or CIDR network (leave out the scheme)"
    if "/" in entry:
        try:
            ipaddress.ip_network(entry)  # strict: host bits set is most likely a typo
        except ValueError as exc:
            return f"not a CIDR network ({exc})"
        return None
    if ":" in entry and entry.count(":") > 1 and not entry.startswith("["):
        host, separator, port = entry, "", ""  # a bare IPv6 address
    elif entry.startswith("["):
        host, separator, port = entry[1:].partition("]:")
        host = host.removesuffix("]")
    else:
        host, separator, port = entry.partition(":")
    if not is_hostname(host):
        return f"{entry!r} is not a host, host:port or CIDR network"
    if separator and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"{entry!r}: the port must be between 1 and 65535"
    return None


class Table:
    """Typed, problem-reporting access to one TOML table at `path`.

    Every reader returns `default` (after recording a problem) when the
    value is missing or wrong, so one mistake never hides the next.
    """

    def __init__(self, data: Mapping[str, object], path: KeyPath, report: Report) -> None:
        self.data = data
        self.path = path
        self.report = report

    def problem(self, key: str, message: str, line: int | None = None) -> None:
        """Record a problem about `key` of this table."""
        self.report.add((*self.path, key), message, line)

    def table(self, key: str) -> Table:
        """The sub-table `[key]`; empty when absent or not a table."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, f"must be a table: write it as [{format_path((*self.path, key))}]")
            value = {}
        return Table(value, (*self.path, key), self.report)

    def tables(self, key: str) -> list[Table]:
        """The array of tables `[[key]]`, one `Table` per entry."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(key, f"must be an array of tables: write each entry as [[{key}]]")
            return []
        return [Table(item, (*self.path, key, i), self.report) for i, item in enumerate(value)]

    def text(self, key: str, default: str = "", *, required: str = "") -> str:
        """A string, stripped; `required` is the reason it must be there."""
        if key not in self.data:
            if required:
                self.problem(key, f"is required {required}")
            return default
        value = self.data[key]
        if not isinstance(value, str):
            self.problem(key, 'must be text in quotes, like "this"')
            return default
        if required and not value.strip():
            self.problem(key, "must not be empty")
        return value.strip()

    def whole(self, key: str, default: int, low: int, high: int | None = None) -> int:
        """A whole number in `low..high` (inclusive; no upper bound when None)."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, "must be a whole number")
            return default
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.problem(key, f"must be {bound}")
            return default
        return value

    def positive(self, key: str, default: float) -> float:
        """A number (whole or decimal) greater than 0."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(key, "must be a number")
            return default
        if not value > 0:
            self.problem(key, "must be greater than 0")
            return default
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        """`true` or `false`."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, "must be true or false (no quotes)")
            return default
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings, each stripped."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, 'must be a list of strings, like ["a", "b"]')
            return ()
        return tuple(v.strip() for v in value)

    def env_name(self, key: str) -> str | None:
        """The environment variable named by a `*_env` key, or None if absent."""
        name = self.text(key)
        if not name:
            return None
        if not _ENV_NAME.match(name):
            # Not echoed: it may be the secret itself, pasted by mistake.
            self.problem(key, "must name an environment variable, like PLN_SMTP_PASSWORD")
            return None
        return name

    def check_keys(self, allowed: Collection[str], where: str = "") -> None:
        """Report every key not in `allowed`; a secret's value is never echoed."""
        for key in self.data:
            if key in allowed:
                continue
            if looks_secret(key):
                self.problem(
                    key,
                    f'secrets are never written in the file: use {key}_env = "NAME" '
                    "and set NAME in the environment",
                )
            else:
                self.problem(key, f"unknown key {key!r}{where}{did_you_mean(key, allowed)}")

"""Editing config.toml from a program (the admin pages, `pln opml import`).

An edit keeps the file's comments, order and layout (tomlkit), is checked by
the same rules as `pln check` before anything is written (a rejected edit
changes nothing), is written atomically (a temporary file in the same
folder, flushed to disk, then renamed over the old one, with its
permissions), and is refused when the file changed on disk since it was
read, so two admins never overwrite each other's work unseen.

    edit = ConfigEdit.open(path, expected=fingerprint_from_the_form)
    edit.update("sources", "edchat", {"url": "https://...", "name": None})
    config = edit.save()    # EditRejected / StaleConfig / ConfigEditError

Entries are found by their identity: a source by `key`, a recipient by
`email` (whatever its case).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace

from aggregator.app.config import parse_config
from aggregator.config.types import Config
from aggregator.domain.errors import ConfigError, PLNError

__all__ = [
    "ConfigEdit",
    "ConfigEditError",
    "EditRejected",
    "Section",
    "StaleConfig",
    "UnknownEntry",
    "Value",
    "fingerprint_of",
]

Section = Literal["sources", "recipients"]
Value = str | int | bool | list[str] | None
"""What an edit writes: None removes the key."""

_IDENTITY: dict[str, str] = {"sources": "key", "recipients": "email"}
_NOUN: dict[str, str] = {"sources": "source", "recipients": "recipient"}
_BOM = b"\xef\xbb\xbf"
# One writer at a time in this process (waitress threads), and across
# processes through a lock on the file's folder (leaves no lock file behind).
_WRITE_LOCK = threading.Lock()


class ConfigEditError(PLNError):
    """An edit could not be made; the message says what to do."""


class StaleConfig(ConfigEditError):
    """config.toml changed on disk since it was read: nothing was written."""


class UnknownEntry(ConfigEditError):
    """The entry to change or remove is not in config.toml (any more)."""


class EditRejected(ConfigEditError):
    """The edited file would not pass `pln check`: nothing was written.

    `problems` maps a field of the edited entry ("url", "key"...) to its
    messages; problems of the entry as a whole or elsewhere in the file are
    under "" as whole lines ("recipients[2].follow: unknown source 'x'").
    """

    def __init__(self, problems: dict[str, list[str]], error: ConfigError) -> None:
        self.problems = problems
        super().__init__(f"change not saved: {error}")


def fingerprint_of(data: bytes) -> str:
    """What a version of the file is recognised by (sha256 of its bytes)."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Focus:
    section: str
    index: int


class ConfigEdit:
    """One change to config.toml, from reading it to writing it back."""

    def __init__(self, path: Path, data: bytes) -> None:
        """Edit `data`, the bytes read from `path` (see `open`)."""
        self.path = path
        self.fingerprint = fingerprint_of(data)
        self._bom = data.startswith(_BOM)
        text = data.removeprefix(_BOM).decode("utf-8")
        try:
            self.document = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigEditError(f"{path}: is not valid TOML ({exc}); fix it first") from exc
        self._focus: _Focus | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, expected: str | None = None) -> ConfigEdit:
        """Read the file; with `expected` (a fingerprint), refuse at once when
        it is not the version the admin was shown."""
        real = Path(os.path.realpath(path))  # a symlinked config.toml: edit its target
        try:
            data = real.read_bytes()
        except OSError as exc:
            raise ConfigEditError(f"{path}: cannot be read ({exc.strerror})") from exc
        edit = cls(real, data)
        if expected is not None and expected != edit.fingerprint:
            raise _stale(path)
        return edit

    def entries(self, section: Section) -> list[dict[str, Any]]:
        """The section's entries as plain values, in file order."""
        return [dict(table.unwrap()) for table in self._tables(section)]

    def add(self, section: Section, values: Mapping[str, Value]) -> int:
        """Append an entry after the section's last one; returns its index."""
        table = tomlkit.table()
        _assign(table, values)
        # Rendering the document costs as much as the file is long: only for a
        # new section, or a roster import of thousands of rows would take hours.
        if section not in self.document:
            text = self.document.as_string()
            if text and not text.endswith("\n\n"):
                self.document.add(tomlkit.nl())  # a blank line before the new section
        tables = self._tables(section, create=True)
        if len(tables):
            _append_after(tables, table)
        else:
            tables.append(table)
        self._focus = _Focus(section, len(tables) - 1)
        return len(tables) - 1

    def update(self, section: Section, identity: str, values: Mapping[str, Value]) -> int:
        """Set (None: remove) keys of one entry, keeping the others; returns its index."""
        index = self._index(section, identity)
        _assign(self._tables(section)[index], values)
        self._focus = _Focus(section, index)
        return index

    def remove(self, section: Section, identity: str) -> None:
        """Remove one entry and the comment lines right above it."""
        tables = self._tables(section)
        index = self._index(section, identity)
        _remove_at(tables, index)
        if not len(tables):
            self.document.remove(section)
        self._focus = None

    def drop_follow(self, source_key: str) -> list[str]:
        """Take `source_key` out of every recipient's `follow`; returns their emails."""
        changed = []
        for table in self._tables("recipients"):
            follow = table.get("follow")
            if isinstance(follow, list) and source_key in follow:
                table["follow"] = [key for key in follow if key != source_key]
                changed.append(str(table.get("email", "")))
        return changed

    def text(self) -> str:
        """The edited file as it would be written."""
        return self.document.as_string()

    def check(self, environ: Mapping[str, str] | None = None) -> Config:
        """The configuration the edited file would load as; EditRejected if invalid."""
        try:
            return parse_config(self.text(), self.path, environ)
        except ConfigError as exc:
            raise EditRejected(self._keyed(exc), exc) from exc

    def save(self, environ: Mapping[str, str] | None = None) -> Config:
        """Check the edited file, then write it atomically unless it changed
        on disk since it was read. Returns the new configuration."""
        config = self.check(environ)
        data = (_BOM if self._bom else b"") + self.text().encode("utf-8")
        with _write_lock(self.path.parent):
            try:
                on_disk = self.path.read_bytes()
            except OSError as exc:
                raise ConfigEditError(f"{self.path}: cannot be read ({exc.strerror})") from exc
            if fingerprint_of(on_disk) != self.fingerprint:
                raise _stale(self.path)
            _replace(self.path, data)
        self.fingerprint = fingerprint_of(data)
        return config

    def _tables(self, section: Section, *, create: bool = False) -> AoT:
        found = self.document.get(section)
        if found is None and create:
            self.document.append(section, tomlkit.aot())
            found = self.document[section]
        if found is None:
            return tomlkit.aot()
        if not isinstance(found, AoT):
            raise ConfigEditError(
                f"{self.path}: {section} is not written as [[{section}]] tables; "
                "edit this part of the file by hand"
            )
        return found

    def _index(self, section: Section, identity: str) -> int:
        field = _IDENTITY[section]
        wanted = identity.casefold() if section == "recipients" else identity
        for index, table in enumerate(self._tables(section)):
            value = table.get(field)
            if isinstance(value, str):
                found = value.casefold() if section == "recipients" else str(value)
                if found == wanted:
                    return index
        raise UnknownEntry(
            f"no {_NOUN[section]} {identity!r} in {self.path.name} "
            "(changed by someone else? reload the page)"
        )

    def _keyed(self, error: ConfigError) -> dict[str, list[str]]:
        """Problems by field of the edited entry; the rest under ""."""
        prefix = ""
        if self._focus is not None:
            prefix = f"{self._focus.section}[{self._focus.index + 1}]"
        keyed: dict[str, list[str]] = {}
        for problem in error.problems:
            if prefix and problem.key.startswith(prefix + "."):
                field = problem.key.removeprefix(prefix + ".").split(".")[0].split("[")[0]
                keyed.setdefault(field, []).append(problem.message)
            else:
                # No line number: it would count lines of a file never written.
                keyed.setdefault("", []).append(
                    ": ".join(filter(None, (problem.key, problem.message)))
                )
        return keyed


def _stale(path: str | os.PathLike[str]) -> StaleConfig:
    return StaleConfig(
        f"{os.fspath(path)} was changed by someone else since this page was loaded; "
        "nothing was saved: reload the page and make your change again"
    )


def _assign(table: Table, values: Mapping[str, Value]) -> None:
    """Set or remove keys; new keys go after the last one, before the
    comments that head what follows the table."""
    body = _body(table)
    cut = _tail_start(body)
    tail = body[cut:]
    del body[cut:]
    for key, value in values.items():
        if value is None:
            if key in table:
                del table[key]
        else:
            table[key] = tomlkit.item(value)
    _body(table).extend(tail)


def _body(table: Table) -> list[tuple[Any, Any]]:
    body: list[tuple[Any, Any]] = table.value.body
    return body


def _tail_start(body: list[tuple[Any, Any]]) -> int:
    """Where the comments and blank lines after a table's last key begin."""
    start = len(body)
    while start and isinstance(body[start - 1][1], (Comment, Whitespace)):
        start -= 1
    return start


def _heading_start(body: list[tuple[Any, Any]]) -> int:
    """Where the comment lines written right above the next table's header begin."""
    start = len(body)
    while start > _tail_start(body) and isinstance(body[start - 1][1], Comment):
        start -= 1
    return start


def _append_after(tables: AoT, table: Table) -> None:
    """Append `table`, moving what followed the last entry (comments that head
    the next part of the file) after the new one, with a blank line between."""
    last = _body(tables[-1])
    cut = _tail_start(last)
    tail = last[cut:]
    del last[cut:]
    last.append((None, Whitespace("\n")))
    if tail:
        _body(table).extend(tail)
    else:
        _body(table).append((None, Whitespace("\n")))
    tables.append(table)


def _remove_at(tables: AoT, index: int) -> None:
    """Remove entry `index`; its heading comments (at the end of the entry
    before it) go with it, the comments after it stay."""
    removed = _body(tables[index])
    tail = removed[_tail_start(removed) :]
    if index:
        previous = _body(tables[index - 1])
        del previous[_heading_start(previous) :]
        if tail and previous and isinstance(previous[-1][1], Whitespace):
            previous.pop()
        previous.extend(tail)
    elif len(tables) > 1:
        # The first entry's heading lies outside the section: its trailing
        # comments (the next entry's heading) open the next entry instead.
        following = _body(tables[1])
        following[:0] = [item for item in tail if isinstance(item[1], Comment)]
    del tables[index]


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk and
    rename it over `path`, keeping `path`'s permission bits."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigEditError(f"{path}: cannot be written ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ConfigEditError(f"{path}: cannot be written ({exc.strerror})") from exc
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _write_lock(folder: Path) -> Iterator[None]:
    with _WRITE_LOCK:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            yield  # a folder we cannot open: the in-process lock still holds
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

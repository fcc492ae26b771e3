"""A roster of recipients as a CSV file: exported for a spreadsheet, imported back.

Columns: email, name, timezone, send_at, follows (source keys separated by
`;`). The first line must name the columns; only `email` is required, and a
column left out of the file leaves that field of an existing recipient as it
is. Excel's habits are tolerated: a byte-order mark, `;` as the delimiter.

A file is checked row by row with the rules `pln check` applies to
`[[recipients]]` (each row is read as one such entry), so a row the import
accepts is one `pln check` accepts. A bad row is skipped with one problem
per line saying what to fix; a file that cannot be read as a roster at all
(too big, not UTF-8, no header, broken quoting) is refused whole.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aggregator.app.config_edit import ConfigEdit, Value
from aggregator.config.entries import read_recipients
from aggregator.config.read import LineMap, Report, Table
from aggregator.config.types import Config
from aggregator.domain.errors import PLNError
from aggregator.domain.recipient import RecipientConfig

ROSTER_COLUMNS = ("email", "name", "timezone", "send_at", "follows")
"""The columns of an exported roster, in order."""
ROSTER_ENCODING = "utf-8-sig"
"""How a roster file is written: UTF-8 with the byte-order mark Excel needs
to read it as UTF-8 rather than the system's code page."""
MAX_ROSTER_BYTES = 2_000_000
MAX_ROSTER_ROWS = 20_000
MAX_NAME_CHARS = 200

_ALIASES = {"follow": "follows"}  # the config's own key name is accepted too
_FOLLOW_SPLIT = re.compile(r"[;,\s]+")  # source keys hold none of these
# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV
# injection"): written with a leading ' so it stays text, read back without it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FIELDS = {"name": "name", "timezone": "timezone", "send_at": "send_at", "follows": "follow"}


class RosterRefused(PLNError):
    """The whole file was refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RosterProblem:
    """One row that was not imported: its line in the file and what to fix."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class RosterPlan:
    """What importing a roster changes: `added` and `updated` recipients (in
    file order), how many rows matched a recipient as it already is, and the
    rows skipped."""

    added: tuple[RecipientConfig, ...] = ()
    updated: tuple[RecipientConfig, ...] = ()
    unchanged: int = 0
    problems: tuple[RosterProblem, ...] = ()

    @property
    def changes(self) -> int:
        """How many recipients the import adds or changes."""
        return len(self.added) + len(self.updated)


@dataclass(frozen=True, slots=True)
class RosterImport:
    """What an import did: the plan it followed and the configuration after it."""

    plan: RosterPlan
    config: Config


def import_roster(
    config_path: str | os.PathLike[str],
    data: bytes,
    *,
    update: bool = False,
    expected: str | None = None,
) -> RosterImport:
    """Add (and with `update`, change) the recipients of the CSV roster
    `data` in the config.toml at `config_path`, in one checked, atomic write.

    The rows with problems are skipped and listed in the result's plan.
    `expected` is the fingerprint of the file the admin was shown (see
    `ConfigEdit.open`). Raises RosterRefused for a file that is no roster,
    and ConfigEditError (nothing written) when config.toml cannot be edited.
    """
    edit = ConfigEdit.open(config_path, expected=expected)
    config = edit.check()
    plan = read_roster(data, config, update=update)
    if not plan.changes:
        return RosterImport(plan, config)
    for recipient in plan.added:
        edit.add("recipients", recipient_values(recipient))
    for recipient in plan.updated:
        old = config.recipient(recipient.email)
        edit.update("recipients", recipient.email, recipient_values(recipient, old))
    return RosterImport(plan, edit.save())


def recipient_values(
    recipient: RecipientConfig, old: RecipientConfig | None = None
) -> dict[str, Value]:
    """The keys of a `[[recipients]]` entry that write `recipient`: all of the
    roster's columns for a new entry, only what differs from `old` for an
    existing one. An empty name is no key."""
    values: dict[str, Value] = {
        "email": recipient.to_address,
        "name": recipient.name or None,
        "timezone": recipient.timezone,
        "send_at": recipient.send_at,
        "follow": list(recipient.follow),
    }
    if old is None:
        return values
    kept = recipient_values(old)
    return {key: value for key, value in values.items() if kept[key] != value}


def export_roster(recipients: Sequence[RecipientConfig]) -> str:
    """The roster as CSV text (comma-delimited, header first), one row per
    recipient, as `read_roster` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ROSTER_COLUMNS)
    for r in recipients:
        row = (r.to_address, r.name, r.timezone, r.send_at, ";".join(r.follow))
        writer.writerow([_guard_cell(cell) for cell in row])
    return out.getvalue()


def _guard_cell(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


def _unguard_cell(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def read_roster(data: bytes, config: Config, *, update: bool = False) -> RosterPlan:
    """What importing the CSV roster `data` into `config` would change.

    A row for an address already in `config` updates that recipient when
    `update` is true, and is a problem otherwise (unless it changes nothing).
    Raises RosterRefused when the file as a whole cannot be used.
    """
    text = _decode(data)
    rows = _rows(text)
    header = _header(next(rows, None))
    plan = _Planner(config, update)
    count = 0
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a row of empty cells from a spreadsheet
        count += 1
        if count > MAX_ROSTER_ROWS:
            raise RosterRefused(
                f"more than {MAX_ROSTER_ROWS:,} rows; split the roster into smaller files"
            )
        plan.add_row(line, header, cells)
    return plan.result()


def _decode(data: bytes) -> str:
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterRefused(
            f"the file is {len(data):,} bytes, more than the {MAX_ROSTER_BYTES:,} bytes "
            "a roster may have; split it into smaller files"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterRefused(
            f"the file is not UTF-8 text (bad byte at offset {exc.start}); in Excel, "
            'save it as "CSV UTF-8 (Comma delimited)"'
        ) from exc


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on; RosterRefused on broken CSV."""
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","  # one column, or nothing to tell by: the standard one
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, [_unguard_cell(cell) for cell in cells]
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RosterRefused(f"line {start}: not valid CSV ({exc}); check its quotes") from exc


def _header(row: tuple[int, list[str]] | None) -> tuple[str, ...]:
    columns_hint = f"the first line must name the columns: {', '.join(ROSTER_COLUMNS)}"
    if row is None:
        raise RosterRefused(f"the file is empty; {columns_hint}")
    names = [cell.strip().lower() for cell in row[1]]
    names = [_ALIASES.get(name, name) for name in names]
    unknown = [name for name in names if name not in ROSTER_COLUMNS]
    if unknown:
        raise RosterRefused(f"unknown column {unknown[0][:40]!r}; {columns_hint}")
    if "email" not in names:
        raise RosterRefused(f"no email column; {columns_hint}")
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice:
        raise RosterRefused(f"the column {twice!r} appears twice in the first line")
    return tuple(names)


class _Planner:
    """Reads rows one by one into a RosterPlan."""

    def __init__(self, config: Config, update: bool) -> None:
        self.config = config
        self.update = update
        self.source_keys = {s.key for s in config.sources}
        self.existing = {r.email: r for r in config.recipients}
        self.seen: dict[str, int] = {}
        self.added: list[RecipientConfig] = []
        self.updated: list[RecipientConfig] = []
        self.unchanged = 0
        self.problems: list[RosterProblem] = []

    def result(self) -> RosterPlan:
        return RosterPlan(
            tuple(self.added), tuple(self.updated), self.unchanged, tuple(self.problems)
        )

    def add_row(self, line: int, header: tuple[str, ...], cells: list[str]) -> None:
        if len(cells) > len(header):
            self._problem(
                line,
                f"{len(cells)} values but the first line names {len(header)} columns; "
                "put a value holding a comma or semicolon in double quotes",
            )
            return
        values = dict(zip(header, cells, strict=False))
        problems, recipient = _check_row(values, self.source_keys)
        if recipient is not None and recipient.email in self.seen:
            problems.append(
                f"{recipient.email} is also on line {self.seen[recipient.email]}; keep one"
            )
        if problems:
            for message in problems:
                self._problem(line, message)
            return
        assert recipient is not None  # no problem means a recipient was read
        self.seen[recipient.email] = line
        self._place(line, values, recipient)

    def _place(self, line: int, values: dict[str, str], recipient: RecipientConfig) -> None:
        old = self.existing.get(recipient.email)
        if old is None:
            self.added.append(recipient)
            return
        merged = _merged(old, recipient, values)
        if merged == old:
            self.unchanged += 1
        elif self.update:
            self.updated.append(merged)
        else:
            changed = [c for c, f in _FIELDS.items() if getattr(merged, f) != getattr(old, f)]
            self._problem(
                line,
                f"{recipient.email} is already a recipient, with a different "
                f"{', '.join(changed)}; allow updates to change it",
            )

    def _problem(self, line: int, message: str) -> None:
        self.problems.append(RosterProblem(line, message))


def _check_row(
    values: dict[str, str], source_keys: set[str]
) -> tuple[list[str], RecipientConfig | None]:
    """The row read as a `[[recipients]]` entry by `pln check`'s own rules:
    the problems (column: message), and the recipient when there are none."""
    entry: dict[str, object] = {"email": values.get("email", "").strip()}
    for column in ("name", "timezone", "send_at"):
        if values.get(column, "").strip():
            entry[column] = values[column].strip()
    if "follows" in values:
        entry["follow"] = [key for key in _FOLLOW_SPLIT.split(values["follows"]) if key]
    report = Report(LineMap(""))
    (recipient,) = read_recipients([Table(entry, ("recipients", 0), report)], source_keys)
    # In the file's column order, as the admin reads the row.
    problems = sorted(
        (_column_message(p.key, p.message) for p in report.problems),
        key=lambda text: ROSTER_COLUMNS.index(text.partition(":")[0]),
    )
    name = str(entry.get("name", ""))
    if len(name) > MAX_NAME_CHARS:
        problems.append(f"name: longer than {MAX_NAME_CHARS} characters")
    elif any(not c.isprintable() for c in name):
        problems.append("name: contains a control character (a line break or tab)")
    return problems, None if problems else recipient


def _column_message(key: str, message: str) -> str:
    """`recipients[1].follow` -> `follows: ...`: named as the file's column."""
    field = key.rpartition(".")[2]
    column = "follows" if field == "follow" else field
    return f"{column}: {message}"


def _merged(old: RecipientConfig, row: RecipientConfig, values: dict[str, str]) -> RecipientConfig:
    """`old` with the fields the file has columns for taken from `row`: a
    column the file leaves out leaves that field alone, and the address
    keeps the case it is written in."""
    changes: dict[str, object] = {}
    for column, field in _FIELDS.items():
        if column in values:
            changes[field] = getattr(row, field)
    return dataclasses.replace(old, **changes)  # type: ignore[arg-type]

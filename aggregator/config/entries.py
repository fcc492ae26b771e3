"""The `[[sources]]` and `[[recipients]]` entries of the configuration.

Each kind of source takes its own options, as its `KindSpec` says (the
kinds are handed in: the connectors define them). They are kept in
`SourceConfig.options` as sorted `(name, text)` pairs: numbers as digits,
booleans as `true`/`false`, `*_env` options as the variable's *name* (the
secret itself is resolved by `aggregator.config.load` into `Config.secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from aggregator.config.read import (
    KeyPath,
    Table,
    address_message,
    did_you_mean,
    format_path,
)
from aggregator.domain.limits import SOURCE_KEY_CHARS
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import KindSpec, Option, SourceConfig

SOURCE_KEYS = ("key", "kind", "name", "interval_minutes", "paused")
RECIPIENT_KEYS = (
    "email",
    "name",
    "timezone",
    "send_at",
    "reading_minutes",
    "follow",
    "mute",
    "boost",
    "days",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as `days` and `weekly_health_email` spell them, Monday first (date.weekday())."""

_SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SEND_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RECIPIENT_DEFAULTS = RecipientConfig(email="")
# A teacher's mute and boost lists: enough for any real list, small enough that
# matching them costs little per post.
MAX_PHRASES = 200
MAX_PHRASE_CHARS = 100


@dataclass(frozen=True, slots=True)
class EnvNeed:
    """A source's `*_env` option: the variable must be set, the source uses it."""

    path: KeyPath
    env_name: str


def read_sources(
    tables: list[Table], kinds: Mapping[str, KindSpec]
) -> tuple[tuple[SourceConfig, ...], tuple[EnvNeed, ...]]:
    """Every `[[sources]]` entry, and the environment variables they need.

    `kinds` are the valid kinds, in the order problems list them. Keys must
    be unique; every problem goes to the tables' report.
    """
    sources: list[SourceConfig] = []
    needs: list[EnvNeed] = []
    first_index: dict[str, int] = {}
    for index, table in enumerate(tables):
        source = _read_source(table, kinds, needs)
        if source.key in first_index:
            other = format_path(("sources", first_index[source.key]))
            table.problem("key", f"duplicate key {source.key!r} (also {other})")
        elif source.key:
            first_index[source.key] = index
        sources.append(source)
    return tuple(sources), tuple(needs)


def _read_source(table: Table, kinds: Mapping[str, KindSpec], needs: list[EnvNeed]) -> SourceConfig:
    key = table.text("key", required="(a short id like edchat)")
    if key and not _SOURCE_KEY.match(key):
        table.problem("key", "must be lower-case letters, digits, - and _ (like cult-of-pedagogy)")
    elif len(key) > SOURCE_KEY_CHARS:  # the database column's size
        table.problem("key", f"must be at most {SOURCE_KEY_CHARS} characters, not {len(key)}")
    kind = table.text("kind", required=f"(one of: {', '.join(kinds)})")
    interval = None
    if "interval_minutes" in table.data:
        interval = table.whole("interval_minutes", 0, 5) or None
    options: tuple[tuple[str, str], ...] = ()
    if kind in kinds:
        spec = kinds[kind].options
        table.check_keys([*SOURCE_KEYS, *spec], where=f" for a {kind} source")
        options = _read_options(table, kind, spec, needs)
    elif kind:
        table.problem(
            "kind",
            f"unknown kind {kind!r}{did_you_mean(kind, kinds)}; valid kinds: {', '.join(kinds)}",
        )
    else:
        every_option = sorted({name for spec in kinds.values() for name in spec.options})
        table.check_keys([*SOURCE_KEYS, *every_option])
    name = table.text("name")
    paused = table.flag("paused", False)
    return SourceConfig(
        key=key, kind=kind, name=name, options=options, interval_minutes=interval, paused=paused
    )


def _read_options(
    table: Table, kind: str, spec: Mapping[str, Option], needs: list[EnvNeed]
) -> tuple[tuple[str, str], ...]:
    values: list[tuple[str, str]] = []
    for name, option in spec.items():
        value = _read_option(table, kind, name, option)
        if value is None:
            continue
        if option.type == "env":
            needs.append(EnvNeed((*table.path, name), value))
        values.append((name, value))
    return tuple(sorted(values))


def _read_option(table: Table, kind: str, name: str, option: Option) -> str | None:
    """The option as text, its default when absent, None when absent or wrong."""
    if name not in table.data:
        if option.required:
            table.problem(name, f"is required for a {kind} source")
        return option.default
    if option.type == "port":
        return str(table.whole(name, int(option.default or 0), 1, 65535))
    if option.type == "count":
        return str(table.whole(name, int(option.default or 1), 1))
    if option.type == "bool":
        return "true" if table.flag(name, option.default == "true") else "false"
    if option.type == "env":
        return table.env_name(name)
    text = table.text(name, required=f"for a {kind} source")
    if not text or option.normalize is None:
        return text or None
    try:
        return option.normalize(text)
    except ValueError as exc:
        table.problem(name, str(exc))
        return None


def read_recipients(
    tables: list[Table], source_keys: Collection[str]
) -> tuple[RecipientConfig, ...]:
    """Every `[[recipients]]` entry; addresses are unique case-insensitively."""
    recipients: list[RecipientConfig] = []
    first_index: dict[str, int] = {}
    for index, table in enumerate(tables):
        recipient = _read_recipient(table, source_keys)
        address = recipient.email.lower()
        if address in first_index:
            other = format_path(("recipients", first_index[address]))
            table.problem("email", f"duplicate recipient {recipient.to_address!r} (also {other})")
        elif address:
            first_index[address] = index
        recipients.append(recipient)
    return tuple(recipients)


def _read_recipient(table: Table, source_keys: Collection[str]) -> RecipientConfig:
    table.check_keys(RECIPIENT_KEYS)
    email = table.text("email", required="(the address the digest goes to)")
    if email and (message := address_message(email, "ana@school.org")):
        table.problem("email", message)
    follow = table.texts("follow")
    for key in follow:
        if key not in source_keys:
            table.problem("follow", f"unknown source {key!r}{did_you_mean(key, source_keys)}")
    return RecipientConfig(
        email=email,
        name=table.text("name"),
        timezone=_read_timezone(table),
        send_at=_read_send_at(table),
        reading_minutes=table.whole("reading_minutes", _RECIPIENT_DEFAULTS.reading_minutes, 1, 60),
        follow=follow,
        mute=_read_phrases(table, "mute"),
        boost=_read_phrases(table, "boost"),
        days=_read_days(table),
    )


def _read_phrases(table: Table, key: str) -> tuple[str, ...]:
    """`mute` or `boost`: words and phrases, bounded so that matching them
    stays a small part of building a digest."""
    phrases = table.texts(key)
    if len(phrases) > MAX_PHRASES:
        table.problem(key, f"at most {MAX_PHRASES} words or phrases (this list has {len(phrases)})")
        return ()
    for phrase in phrases:
        if not phrase:
            table.problem(key, "holds an empty entry; remove it")
            return ()
        if len(phrase) > MAX_PHRASE_CHARS:
            table.problem(key, f"{phrase[:20]!r}... is longer than {MAX_PHRASE_CHARS} characters")
            return ()
    return phrases


def _read_days(table: Table) -> tuple[str, ...]:
    """`days = ["mon", ..., "fri"]`: lower-cased, in week order, each once."""
    days = tuple(day.lower() for day in table.texts("days"))
    for day in days:
        if day not in WEEKDAYS:
            table.problem("days", f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            return ()
    if "days" in table.data and not days:
        table.problem(
            "days", 'must name at least one day, like ["mon", "tue", "wed", "thu", "fri"]'
        )
    return tuple(day for day in WEEKDAYS if day in days)


def _read_timezone(table: Table) -> str:
    name = table.text("timezone", _RECIPIENT_DEFAULTS.timezone)
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, like "America"
        hint = did_you_mean(name, available_timezones())
        table.problem(
            "timezone", f"unknown time zone {name!r}{hint}; use an IANA name like America/Chicago"
        )
        return _RECIPIENT_DEFAULTS.timezone


def _read_send_at(table: Table) -> str:
    value = table.data.get("send_at")
    # An unquoted `send_at = 06:30` is a TOML local time: accept it.
    if isinstance(value, time) and not (value.second or value.microsecond):
        return f"{value.hour:02d}:{value.minute:02d}"
    text = table.text("send_at", _RECIPIENT_DEFAULTS.send_at)
    match = _SEND_AT.match(text)
    if not match:
        table.problem("send_at", 'must be a 24-hour time "HH:MM", like "06:30"')
        return _RECIPIENT_DEFAULTS.send_at
    return f"{int(match.group(1)):02d}:{match.group(2)}"

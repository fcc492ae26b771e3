"""Structured log lines: one event per line as `key=value` pairs (logfmt).

`pln run` is read through journalctl and grep, so every record, traceback
included, is exactly one line: `time=... level=... logger=... msg="..."`
followed by the record's own fields, given as `extra={"fields": {...}}`
(`log.info("fetched", extra=fields(event="fetch", source="edchat", new=3))`).
A password in a URL is masked wherever it appears; secrets themselves
never reach a log (`Secret`'s repr is redacted).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@/\s]+)@")


def fields(**values: object) -> dict[str, Mapping[str, object]]:
    """The `extra=` of a logging call whose record carries these fields."""
    return {"fields": values}


def quote(value: object) -> str:
    """A value as logfmt writes it: bare when safe, else quoted with escapes."""
    text = _URL_PASSWORD.sub(r"\1***@", str(value))
    if text and _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


class LogfmtFormatter(logging.Formatter):
    """Formats a record as one logfmt line (the traceback, if any, as `exc=`)."""

    def __init__(self, with_traceback: bool = True) -> None:
        super().__init__()
        self._with_traceback = with_traceback

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        pairs: list[tuple[str, object]] = [
            ("time", at.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
            ("level", record.levelname.lower()),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        extra: Any = getattr(record, "fields", None)
        if isinstance(extra, Mapping):
            pairs.extend((str(key), value) for key, value in extra.items())
        if self._with_traceback and record.exc_info:
            pairs.append(("exc", self.formatException(record.exc_info)))
        return " ".join(f"{key}={quote(value)}" for key, value in pairs)

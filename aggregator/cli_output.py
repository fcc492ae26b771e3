"""What `pln` prints: tables, progress bars, log set-up. Used by `cli.py` only."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from aggregator.config import format_problems
from aggregator.errors import ConfigError
from aggregator.ingest import Progress as ProgressCallback
from aggregator.models import FetchOutcome, SourceStatus

_out = Console(highlight=False, soft_wrap=True)


def log_path() -> Path:
    """Where the log (with tracebacks) goes: $PLN_LOG_FILE or the user's state folder."""
    explicit = os.environ.get("PLN_LOG_FILE")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "pln-digest" / "pln.log"


def setup_logging(verbose: bool) -> None:
    """One line per event to the log file; also to stderr with --verbose."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    except OSError:
        # A read-only home must not stop the service; errors still reach stderr.
        handlers.append(logging.StreamHandler(sys.stderr))
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)


def config_problem_lines(error: ConfigError) -> list[str]:
    """Every configuration problem, one line each, with file and line."""
    return format_problems(error)


@contextmanager
def fetch_progress(total: int) -> Iterator[ProgressCallback]:
    """A progress bar on a terminal (nothing otherwise), advanced per source."""
    if not sys.stderr.isatty():
        yield lambda outcome: None
        return
    columns = (TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)
        yield lambda outcome: bar.update(task, advance=1, description=outcome.source_key)


def print_fetch_summary(outcomes: Sequence[FetchOutcome]) -> None:
    """The summary table of `pln fetch`: source, new posts, status, error."""
    table = Table("source", "new", "updated", "status", "error / note")
    for o in sorted(outcomes, key=lambda o: o.source_key):
        table.add_row(o.source_key, str(o.new_posts), str(o.updated_posts), o.status,
                      o.error or o.skipped or "")
    _out.print(table)
    failed = sum(1 for o in outcomes if o.error)
    total_new = sum(o.new_posts for o in outcomes)
    _out.print(f"{len(outcomes)} sources, {total_new} new posts, {failed} failed")


def print_check(problems: dict[str, list[str]]) -> None:
    """`pln check --online`: one line per source, OK or its problems."""
    for key, found in sorted(problems.items()):
        _out.print(f"{key}: " + ("OK" if not found else "; ".join(found)))


def _when(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    minutes = int((now - at).total_seconds() // 60)
    if minutes < 0:
        return f"in {_span(-minutes)}"
    return f"{_span(minutes)} ago"


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def print_status(
    sources: Sequence[SourceStatus], recipients: Sequence[tuple[str, datetime | None]],
    now: datetime,
) -> None:
    """`pln status`: per source health and per recipient last digest."""
    table = Table("source", "kind", "active", "posts", "last fetch", "next run",
                  "failures", "last error")
    for s in sources:
        table.add_row(s.key, s.kind, "yes" if s.is_active else "no", str(s.posts_stored),
                      _when(s.last_attempt_at, now), _when(s.next_attempt_at, now),
                      str(s.consecutive_failures), s.last_error or "")
    _out.print(table)
    people = Table("recipient", "last digest sent")
    for email, sent_at in recipients:
        people.add_row(email, _when(sent_at, now))
    _out.print(people)

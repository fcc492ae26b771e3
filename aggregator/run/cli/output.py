"""What `pln` prints: tables, progress bars, log set-up. Used by `cli.py` only."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table
from rich.text import Text

from aggregator.app.health import SourceHealth
from aggregator.app.ingest import Progress as ProgressCallback
from aggregator.app.retention import PostCounts
from aggregator.config.load import format_problems
from aggregator.domain.delivery import (
    DeliveryOutcome,
    DeliveryState,
    OutcomeStatus,
    RecordedDelivery,
)
from aggregator.domain.errors import ConfigError
from aggregator.domain.logfmt import LogfmtFormatter
from aggregator.domain.source import FetchOutcome, SourceStatus

if TYPE_CHECKING:  # celery is imported only when [queue] is set
    from aggregator.run.worker.status import QueueStatus

log = logging.getLogger(__name__)

# Handlers `setup_logging` installs carry this name, so a second call (a test
# runner invoking `main` again) replaces them instead of adding duplicates.
_HANDLER_NAME = "pln-digest"
# Outcomes counted as digests sent (or, in a dry run, that would be).
_SENDING = (OutcomeStatus.SENT, OutcomeStatus.WOULD_SEND)
# Width of tables written to a file or a pipe: wide enough that no message is
# wrapped or cut, so `pln status | grep` and cron mail see whole lines.
_PIPE_WIDTH = 10_000


def _stdout() -> Console:
    """A console on the current stdout: fitted to the window on a terminal."""
    width = None if sys.stdout.isatty() else _PIPE_WIDTH
    return Console(highlight=False, soft_wrap=True, width=width)


def _plain(value: str) -> Text:
    """A table cell shown as is: messages from feeds may contain `[...]`, never markup."""
    return Text(value)


def counted(n: int, noun: str) -> str:
    """`1 source`, `3 sources`: a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def log_path() -> Path:
    """Where the log (with tracebacks) goes: $PLN_LOG_FILE or the user's state folder."""
    explicit = os.environ.get("PLN_LOG_FILE")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "pln-digest" / "pln.log"


def setup_logging(verbose: bool) -> None:
    """One logfmt line per event (`aggregator.domain.logfmt`) to the log file; also
    to stderr with --verbose.

    When the log file cannot be written, warnings go to stderr instead,
    without tracebacks (no traceback ever reaches the terminal). Idempotent: the
    handlers of an earlier call are closed and replaced.
    """
    close_logging()
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    path = log_path()
    file: logging.Handler | None = None
    problem = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(path, encoding="utf-8")
        _install(file, LogfmtFormatter())
    except OSError as exc:
        # A read-only home must not stop the service.
        problem = exc.strerror or str(exc)
    if verbose:
        _install(logging.StreamHandler(sys.stderr), LogfmtFormatter())
    elif file is None:
        # Its traceback belongs in the log file, not on a terminal.
        _install(
            logging.StreamHandler(sys.stderr),
            LogfmtFormatter(with_traceback=False),
            logging.WARNING,
        )
    if file is None:
        log.warning("cannot write the log file %s (%s): warnings go to stderr", path, problem)


def _install(handler: logging.Handler, fmt: logging.Formatter, level: int = logging.NOTSET) -> None:
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(fmt)
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)


def log_hint() -> str:
    """Where to read an unexpected error's traceback, for its one-line message."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and handler.get_name() == _HANDLER_NAME:
            return f"details in {handler.baseFilename}"
    return "run again with --verbose for details"


def close_logging() -> None:
    """Remove and close the handlers `setup_logging` installed (if any)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()


def config_problem_lines(error: ConfigError) -> list[str]:
    """Every configuration problem, one line each, with file and line."""
    return format_problems(error)


@contextmanager
def fetch_progress(total: int) -> Iterator[ProgressCallback]:
    """A progress bar on a terminal (nothing otherwise), advanced per source."""
    if not sys.stderr.isatty():
        yield lambda outcome: None
        return
    columns = (
        TextColumn("fetching"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)
        yield lambda outcome: bar.update(task, advance=1, description=outcome.source_key)


def print_fetch_summary(outcomes: Sequence[FetchOutcome]) -> None:
    """The summary table of `pln fetch`: source, new posts, status, error."""
    table = Table(
        _key_column(o.source_key for o in outcomes), "new", "updated", "status", "error / note"
    )
    for o in sorted(outcomes, key=lambda o: o.source_key):
        table.add_row(
            _plain(o.source_key),
            str(o.new_posts),
            str(o.updated_posts),
            o.status,
            _plain(o.error or o.problem or o.skipped or ""),
        )
    out = _stdout()
    out.print(table)
    failed = sum(1 for o in outcomes if o.error)
    total_new = sum(o.new_posts for o in outcomes)
    out.print(
        f"{counted(len(outcomes), 'source')}, {counted(total_new, 'new post')}, {failed} failed",
        markup=False,
    )


def _key_column(keys: Iterable[str]) -> Column:
    """The source column: keys are what users type back (`--source KEY`), never cut."""
    return Column("source", no_wrap=True, min_width=max((len(k) for k in keys), default=6))


def print_check(problems: dict[str, list[str]]) -> None:
    """`pln check --online`: one line per source, OK or its problems."""
    out = _stdout()
    for key, found in sorted(problems.items()):
        out.print(f"{key}: " + ("OK" if not found else "; ".join(found)), markup=False)


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
    sources: Sequence[SourceStatus],
    recipients: Sequence[tuple[str, datetime | None]],
    now: datetime,
) -> None:
    """`pln status`: per source health and per recipient last digest."""
    table = Table(
        _key_column(s.key for s in sources),
        "kind",
        "active",
        "posts",
        "last fetch",
        "next run",
        "failures",
        "last error",
    )
    for s in sources:
        table.add_row(
            _plain(s.key),
            s.kind,
            "yes" if s.is_active else "no",
            str(s.posts_stored),
            _when(s.last_attempt_at, now),
            _when(s.next_attempt_at, now),
            str(s.consecutive_failures),
            _plain(s.last_error or ""),
        )
    out = _stdout()
    out.print(table)
    people = Table(Column("recipient", no_wrap=True), "last digest sent")
    for email, sent_at in recipients:
        people.add_row(_plain(email), _when(sent_at, now))
    out.print(people)


def print_teacher_states(states: Sequence[tuple[str, str]]) -> None:
    """`pln status`: the teachers who unsubscribed or paused their digest."""
    out = _stdout()
    for email, state in states:
        out.print(f"{email}: {state}", markup=False)


def print_storage(counts: PostCounts, keep_days: int) -> None:
    """`pln status`: posts stored, and what pruning keeps."""
    _stdout().print(
        f"{counted(counts.stored, 'post')} stored; older than {keep_days} days are pruned "
        f"daily, except {counted(counts.shown_in_sent_digests, 'post')} shown in sent "
        "digests (kept for the archive).",
        markup=False,
    )


def print_schedule(
    health: Sequence[SourceHealth],
    next_digests: Sequence[tuple[str, datetime | None]],
    now: datetime,
) -> None:
    """`pln status`: failing and stale sources, and each recipient's next digest."""
    out = _stdout()
    problems = [h for h in health if h.summary]
    for h in problems:
        out.print(f"{h.key}: {h.summary}", markup=False)
    if not problems:
        out.print("Every active source answers and brings new items.", markup=False)
    for email, at in next_digests:
        when = "none planned" if at is None else f"{at:%Y-%m-%d %H:%M} UTC ({_when(at, now)})"
        out.print(f"next digest for {email}: {when}", markup=False)


def print_send(outcomes: Sequence[DeliveryOutcome]) -> None:
    """`pln send`: one line per digest (sent, would send, retry, failed...), then totals."""
    out = _stdout()
    for o in outcomes:
        detail = o.subject if o.status in _SENDING else o.error
        if o.status is OutcomeStatus.RETRY and o.retry_at is not None:
            detail += f" (retry at {o.retry_at:%H:%M} UTC)"
        if o.status is OutcomeStatus.UNKNOWN:
            detail += f"; check the mail log for {o.message_id}"
        out.print(f"{o.email} {o.local_day}: {o.status}: {detail}", markup=False)
    sent = sum(1 for o in outcomes if o.status in _SENDING)
    dry = any(o.status is OutcomeStatus.WOULD_SEND for o in outcomes)
    verb = "would be sent" if dry else "sent"
    out.print(f"{counted(sent, 'digest')} {verb}, {len(outcomes) - sent} not", markup=False)


def print_deliveries(states: Sequence[RecordedDelivery], now: datetime) -> None:
    """`pln status`: each recipient's latest delivery, with what to do if it is stuck."""
    table = Table(Column("recipient", no_wrap=True), "day", "delivery", "attempts", "note")
    for s in states:
        note = s.last_error or ""
        if s.status is DeliveryState.UNKNOWN:
            note = f"unknown: check the mail log for {s.message_id} ({note})"
        elif s.status is DeliveryState.RETRY:
            note = f"retry {_when(s.next_attempt_at, now)}: {note}"
        elif s.status is DeliveryState.SENT:
            note = f"sent {_when(s.sent_at, now)}"
        table.add_row(
            _plain(s.email), s.local_day.isoformat(), s.status, str(s.attempts), _plain(note)
        )
    _stdout().print(table)


def print_queue(status: QueueStatus | None, now: datetime) -> None:
    """`pln status` with [queue]: the queue's depth, the workers alive, the oldest wait."""
    if status is None:
        return
    out = _stdout()
    if status.problem:
        out.print(Text(f"Queue: {status.problem}"))
    else:
        out.print(Text(f"Queue {status.broker}: {counted(status.depth or 0, 'task')} waiting"))
        names = ", ".join(status.workers) if status.workers else "none answered"
        out.print(Text(f"Workers alive: {len(status.workers)} ({names})"))
    if status.oldest_waiting_since is not None:
        oldest = _when(status.oldest_waiting_since, now)
        out.print(Text(f"Enqueued, not started: {status.waiting}; the oldest since {oldest}"))
    else:
        out.print(Text("Enqueued, not started: none"))

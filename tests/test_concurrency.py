"""Two `pln send` processes starting together on a fresh PostgreSQL database.

Each process creates the schema (or finds it made), writes the configured
sources and recipients, and claims the digests that are due: both must
succeed, and every digest must be written exactly once, round after round.
The processes are real `pln` processes, started once (imports take longer
than a round) and handed one command line per round at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, _reset_postgres

ROUNDS = 20
ROOT = Path(__file__).parent.parent

# A `pln` process that runs one command line per line of input, as `pln` would
# run it, and answers with its exit status.
WORKER = """
import shlex, sys
from aggregator.run.cli import main
for line in sys.stdin:
    try:
        main.main(shlex.split(line), prog_name="pln", standalone_mode=True)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    print(f"exit {status}", flush=True)
"""

CONFIG = """
[database]
url = "{url}"

[email]
backend = "file"
folder = "{outbox}"

[schedule]
# Due all day: every round sends, whatever the time of the test.
misfire_grace_minutes = 1440

[[sources]]
key = "blog"
kind = "rss"
url = "https://blog.example/feed"

[[sources]]
key = "podcast"
kind = "rss"
url = "https://podcast.example/feed"

[[recipients]]
email = "ana@school.example"
timezone = "UTC"
send_at = "00:00"
follow = ["blog"]

[[recipients]]
email = "ben@school.example"
timezone = "UTC"
send_at = "00:00"
follow = ["blog", "podcast"]
"""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**_environ(), "PLN_LOG_FILE": str(tmp_path / "pln.log")},
        )
        for _ in range(2)
    ]
    yield started
    for worker in started:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.close()  # the end of its input: it exits
        worker.wait(timeout=30)
        worker.stdout.close()


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PLN_CONFIG"}


def _answer(worker: subprocess.Popen[str]) -> tuple[int, str]:
    """What the worker printed for one command, and its exit status."""
    assert worker.stdout is not None
    lines = []
    for line in worker.stdout:
        if line.startswith("exit "):
            return int(line.split()[1]), "".join(lines)
        lines.append(line)
    raise AssertionError("the pln process ended: " + "".join(lines))


@pytest.mark.needs_server(bool(POSTGRES_URL), "PLN_TEST_DATABASE_URL is not set")
def test_two_processes_starting_together_on_a_fresh_database_both_succeed(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    for round_ in range(ROUNDS):
        _reset_postgres(POSTGRES_URL)  # a fresh database: no tables at all
        outbox = tmp_path / f"outbox-{round_}"
        config = tmp_path / f"config-{round_}.toml"
        config.write_text(CONFIG.format(url=POSTGRES_URL, outbox=outbox), encoding="utf-8")
        for worker in workers:  # both at once: the second line follows the first at once
            assert worker.stdin is not None
            worker.stdin.write(f"send --config {config}\n")
            worker.stdin.flush()
        answers = [_answer(worker) for worker in workers]
        assert [status for status, _ in answers] == [0, 0], f"round {round_ + 1}: {answers}"
        written = sorted(outbox.iterdir())
        assert len(written) == 2, f"round {round_ + 1}: {written}"  # one digest each, once

"""`pln digest --explain` as a user meets it: stored posts in, reasons out."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator import load_config
from aggregator.app.wiring import build_app
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult
from aggregator.run.cli import output as cli_output
from aggregator.run.cli.commands import main

RECIPIENT = "ana@school.example"
# 2026-11-30 at 06:30 in Chicago, Ana's send time: the digest `--date 2026-11-30` builds.
SEND_AT = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The log goes to tmp_path; `pln`'s handlers and level are undone after each test."""
    path = tmp_path / "log" / "pln.log"
    monkeypatch.setenv("PLN_LOG_FILE", str(path))
    monkeypatch.delenv("PLN_CONFIG", raising=False)
    level = logging.getLogger().level
    yield path
    cli_output.close_logging()
    logging.getLogger().setLevel(level)


def post(external_id: str, title: str, hours_ago: float, source_key: str = "blog") -> Post:
    return Post(
        source_key=source_key,
        external_id=external_id,
        network="rss",
        url=f"https://blog.example/{external_id}",
        author=f"Writer {external_id}",
        title=title,
        text=f"{title}: notes from a classroom.",
        html="",
        published_at=SEND_AT - timedelta(hours=hours_ago),
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Two feeds followed, a mute word; posts stored as a fetch would store them."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{(tmp_path / "pln.db").as_posix()}"\n\n'
        '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n\n'
        '[[sources]]\nkey = "pod"\nkind = "rss"\nurl = "https://pod.example/feed"\n\n'
        f'[[recipients]]\nemail = "{RECIPIENT}"\ntimezone = "America/Chicago"\n'
        'follow = ["blog", "pod"]\nmute = ["webinar"]\n',
        encoding="utf-8",
    )
    posts = {
        "blog": (
            post("b1", "Exit tickets that work", 2),
            post("b2", "Free webinar tonight", 3),
            post("old", "Last week's news", 60),
        ),
        "pod": (post("p1", "Episode 12: retrieval practice", 5, "pod"),),
    }
    with build_app(load_config(path), connectors={}) as app:
        for key, batch in posts.items():
            app.repo.save_fetch(key, FetchResult(posts=batch), SEND_AT, SEND_AT)
    return path


def test_explain_lists_chosen_and_muted_candidates(config: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "digest",
            "--recipient",
            RECIPIENT,
            "--date",
            "2026-11-30",
            "--explain",
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Digest for {RECIPIENT}, Mon 30 Nov")
    assert lines[1].startswith("3 posts: 1 muted, 2 candidates in 2 stories; 2 entries")
    assert '"Exit tickets that work" [blog, rss, Writer b1]: entry' in lines[2]
    assert '"Episode 12: retrieval practice" [pod, rss, Writer p1]: entry' in lines[3]
    assert lines[4].endswith('"Free webinar tonight" [blog, rss, Writer b2]: mute word "webinar"')
    assert "Last week" not in result.stdout  # outside the window: not a candidate at all


def test_explain_for_an_unknown_recipient_is_a_one_line_error(config: Path) -> None:
    result = CliRunner().invoke(
        main, ["digest", "--recipient", "bob@school.example", "--explain", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "bob@school.example" in result.stderr

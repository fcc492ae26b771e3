"""`pln run` as a real process: killed with SIGKILL mid-run and restarted, it
loses and duplicates nothing; SIGTERM stops it cleanly, exit status 0."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from aggregator.run.demo.server import FeedServer

SOURCES = 15
ITEMS = 20
ROOT = Path(__file__).parent.parent


def feed(key: str) -> bytes:
    at = datetime.now(UTC) - timedelta(hours=ITEMS + 1)
    items = "".join(
        f"<item><guid>{key}-{n}</guid><title>Idea {n} from {key}</title>"
        f"<link>https://{key}.example/{n}</link><description>Text {n}</description>"
        f"<pubDate>{format_datetime(at + timedelta(hours=n), usegmt=True)}</pubDate></item>"
        for n in range(ITEMS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{key}</title>'
        f"<link>https://{key}.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    # Slow enough that a fetch run (15 feeds, 3 at a time: about 5 s) is still
    # going when the process is killed right after its digest went out, even
    # on a loaded machine where that digest takes a while.
    routes = {f"/{n}.rss": ("application/rss+xml", feed(f"feed-{n}")) for n in range(SOURCES)}
    with FeedServer(routes, latency_s=1.0) as srv:
        yield srv


def write_config(tmp: Path, srv: FeedServer) -> Path:
    """One recipient whose digest is due now (a minute ago, local midday)."""
    now = datetime.now(UTC)
    offset = now.hour - 12  # Etc/GMT+N is N hours behind UTC: local time is about 12:xx
    zone = f"Etc/GMT{offset:+d}" if offset else "Etc/GMT"
    send_at = (now - timedelta(hours=offset, minutes=1)).strftime("%H:%M")
    keys = [f"feed-{n}" for n in range(SOURCES)]
    sources = "".join(
        f'[[sources]]\nkey = "{k}"\nkind = "rss"\nurl = "{srv.base_url}/{n}.rss"\n\n'
        for n, k in enumerate(keys)
    )
    path = tmp / "pln.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp / "pln.db"}"\n\n'
        f'[email]\nbackend = "file"\nfolder = "{tmp / "outbox"}"\n'
        'from = "PLN Digest <digest@school.example>"\n\n'
        f'[fetch]\ntimeout_seconds = 5\nworkers = 3\nallow_private = ["127.0.0.1:{srv.port}"]\n\n'
        f'{sources}[[recipients]]\nemail = "ana@school.example"\ntimezone = "{zone}"\n'
        f'send_at = "{send_at}"\nfollow = {keys!r}\n'.replace("'", '"')
    )
    return path


def start(config: Path, tmp: Path) -> subprocess.Popen[str]:
    script = Path(sys.executable).with_name("pln")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from aggregator.run.cli.commands import main; main()"]
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PLN_LOG_FILE=str(tmp / "pln.log"))
    return subprocess.Popen(
        [*command, "run", "--config", str(config)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def query(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_killed_service_resumes_without_loss_or_duplicate_and_stops_on_sigterm(
    tmp_path: Path, server: FeedServer
) -> None:
    config, db, outbox = write_config(tmp_path, server), tmp_path / "pln.db", tmp_path / "outbox"
    posts = "SELECT count(*) FROM posts"
    first = start(config, tmp_path)
    guard = threading.Timer(25, os.killpg, (first.pid, signal.SIGKILL))  # never hang the suite
    guard.start()
    try:
        # Killed once the digest went and the fetch run is part-way.
        wait_until(lambda: len(list(outbox.glob("*.eml"))) == 1 and query(db, posts) > 0)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=10)
        guard.cancel()
    assert query(db, posts) < SOURCES * ITEMS  # it really was killed mid-run

    second = start(config, tmp_path)
    try:
        stored = "SELECT count(*) FROM sources WHERE last_success_at IS NOT NULL"
        wait_until(lambda: query(db, stored) == SOURCES, timeout_s=30)
        second.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        _out, err = second.communicate(timeout=10)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
            second.communicate()
    assert second.returncode == 0, err
    assert time.monotonic() - stopped_at < 8  # "within a few seconds", on a loaded machine too
    assert query(db, posts) == SOURCES * ITEMS
    assert (
        query(
            db,
            "SELECT count(*) FROM (SELECT 1 FROM posts GROUP BY source_key, "
            "external_id HAVING count(*) > 1)",
        )
        == 0
    )
    assert len(list(outbox.glob("*.eml"))) == 1  # the digest went once, not again
    assert query(db, "SELECT count(*) FROM deliveries") == 1
    log = (tmp_path / "pln.log").read_text(encoding="utf-8")
    assert "event=stop" in log and 'msg="service stopped"' in log

"""Crash safety of fetching: `pln fetch` killed with SIGKILL at any point.

A child process runs `fetch_sources` on a SQLite file over a loopback feed
server and is killed (SIGKILL, its whole process group) after a varying
number of sources were stored. After every kill the database must open,
pass SQLite's integrity check and show no half-written source: a source's
ETag names the feed version it stored, and it holds exactly that version's
posts, or it has neither. A final run completes and stores every item of the
corpus exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from aggregator import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
from aggregator.run.demo.server import FeedServer

SOURCES = 24
ITEMS = (30, 40)  # items per feed in version 1, then version 2 (a superset)
ROOT = Path(__file__).parent.parent

# The child: fetch everything, printing one line per stored source.
CHILD = """
import sys
from aggregator import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
with build_app(load_config(sys.argv[1])) as app:
    print("ready", flush=True)
    fetch_sources(app, progress=lambda o: print("stored", o.source_key, flush=True))
print("done", flush=True)
"""


def feed(key: str, items: int) -> bytes:
    """An RSS feed of `items` dated items with distinct guids."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    body = "".join(
        f"<item><guid>{key}-{n}</guid><title>Idea {n} from {key}</title>"
        f"<link>https://{key}.example/{n}</link><description>&lt;p&gt;Text {n}&lt;/p&gt;</description>"
        f"<pubDate>{format_datetime(at + timedelta(hours=n), usegmt=True)}</pubDate></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{key}</title>'
        f"<link>https://{key}.example/</link>{body}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    # Latency makes a whole run last long enough to be killed in its middle.
    routes = {
        f"/{n}.rss": ("application/rss+xml", feed(f"feed-{n}", ITEMS[0])) for n in range(SOURCES)
    }
    with FeedServer(routes, latency_s=0.08) as srv:
        yield srv


def write_config(tmp: Path, srv: FeedServer) -> Path:
    sources = "".join(
        f'[[sources]]\nkey = "feed-{n}"\nkind = "rss"\nurl = "{srv.base_url}/{n}.rss"\n\n'
        for n in range(SOURCES)
    )
    path = tmp / "pln.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp / "pln.db"}"\n\n[fetch]\ntimeout_seconds = 5\n'
        f'workers = 3\nallow_private = ["127.0.0.1:{srv.port}"]\n\n{sources}'
    )
    return path


def run_and_kill(config: Path, after_stored: int, extra_delay_s: float) -> list[str]:
    """Start the child; SIGKILL it once `after_stored` sources were stored
    (-1: right after it opened the database; -2: `extra_delay_s` after it
    started, whatever it was doing) plus `extra_delay_s`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    guard = threading.Timer(15, os.killpg, (child.pid, signal.SIGKILL))  # never hang the suite
    guard.start()
    lines: list[str] = []
    try:
        assert child.stdout is not None
        if after_stored < -1:
            time.sleep(extra_delay_s)
            return lines
        for line in child.stdout:
            lines.append(line.strip())
            stored = sum(1 for seen in lines if seen.startswith("stored"))
            if (after_stored < 0 and line.startswith("ready")) or (0 <= after_stored <= stored):
                time.sleep(extra_delay_s)
                break
    finally:
        guard.cancel()
        with_group_killed(child)
    return lines


def with_group_killed(child: subprocess.Popen[str]) -> None:
    """SIGKILL the child and any worker process it started (its process group)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had already finished
    child.wait(timeout=10)
    if child.stdout is not None:
        child.stdout.close()


def assert_consistent(db: Path, expected_by_etag: dict[str, int]) -> None:
    """The database opens, is intact, and each source holds whole fetches only."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables:
            # Killed before its first migration committed: the schema is all or nothing.
            assert tables == set(), tables
            return
        counts = dict(
            conn.execute("SELECT source_key, count(*) FROM posts GROUP BY source_key").fetchall()
        )
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT source_key, external_id FROM posts "
            "GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
        sources = conn.execute("SELECT key, etag, cursor, last_success_at FROM sources").fetchall()
    assert dupes == 0
    for key, etag, cursor, success in sources:
        stored = counts.get(key, 0)
        if etag is None:
            assert stored == 0 and cursor is None and success is None, (key, stored)
        else:
            assert stored == expected_by_etag[etag], (key, etag, stored)
            assert cursor is not None and len(cursor.split()) == stored, key


def test_killed_fetches_leave_a_consistent_database_and_lose_or_duplicate_nothing(
    server: FeedServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, server)
    db = tmp_path / "pln.db"
    rng = random.Random(6)
    etags = {server.entry(f"/{n}.rss").render()[1]: ITEMS[0] for n in range(SOURCES)}  # type: ignore[union-attr]
    # Killed while starting or creating the database, right after opening it,
    # 0.15 s later, and after 2 and 7 stored sources.
    kills = [
        (-2, rng.uniform(0.3, 0.9)),
        (-1, 0.0),
        (-1, 0.15),
        (2, rng.uniform(0, 0.05)),
        (7, rng.uniform(0, 0.05)),
    ]
    for after, delay in kills:
        lines = run_and_kill(config, after, delay)
        assert "done" not in lines  # it really was killed before finishing
        if db.exists():
            assert_consistent(db, etags)
    # The feeds change (ten more items each) and the fetch is killed again mid-way.
    for n in range(SOURCES):
        server.set_route(f"/{n}.rss", "application/rss+xml", feed(f"feed-{n}", ITEMS[1]))
        etags[server.entry(f"/{n}.rss").render()[1]] = ITEMS[1]  # type: ignore[union-attr]
    assert "done" not in run_and_kill(config, 13, rng.uniform(0, 0.05))
    assert_consistent(db, etags)

    with build_app(load_config(config)) as app:
        outcomes = fetch_sources(app)
        assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
        assert sum(s.posts_stored for s in app.repo.source_statuses()) == SOURCES * ITEMS[1]
        # A further run finds nothing new: nothing was stored twice or half.
        again = fetch_sources(app)
        assert sum(o.new_posts + o.updated_posts for o in again) == 0
    assert_consistent(db, etags)

"""Scale benchmark: fetches/s and digests/s of Celery workers, one worker against two.

    python bench/bench_scale.py [--recipients 20000] [--sources 2000] [--follows 20]
                                [--items 10] [--latency-ms 100] [--workers 1,2]
                                [--concurrency 1] [--window-s 90] [--quick] [--json FILE]

Needs the machine's PostgreSQL and Redis (`--database-url`, `--redis-url`; the
database's public schema is dropped and made again for each run) and the
`workers` extra. The parent serves the corpus (bench/corpus.py) from the
loopback FeedServer with the given latency, writes a config.toml with
`[queue]` on Redis, prepares the database once per run, and for each number
of workers:

1. fetch phase: starts the workers (`pln worker --concurrency C`), enqueues
   "fetch source K" for every source, as `pln run` would (the planning
   functions of aggregator.app.units, the scheduler's `Dispatcher.enqueue`), and counts
   finished fetches in the database every half second;
2. the sources the window left unfetched are fetched in this process,
   untimed, so every digest has its posts;
3. digest phase: fresh workers, "build and send recipient R's digest" for
   every recipient (all due now; the file mailer writes .eml files), counted
   the same way.

Enqueueing is timed apart (it is the scheduler's work: the "queued" leases
of 1,000 tasks in one transaction, their tasks over one broker connection),
and reported as the scheduler's tasks per second. A rate is counted once it
is over, from the next unit finished (worker start-up excluded) to the end
of the window (`--window-s`) or of the work, whichever comes first.
See bench/README.md for the figures of a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus import default_base, render_feed
from proctree import tree_cpu_seconds, tree_pss_mib

SEED = 20261206
FINISHED = "('sent', 'skipped', 'failed', 'unknown')"


@dataclass
class Rate:
    """Units finished in a measured window, and the workers' CPU seconds in it."""

    units: int
    seconds: float
    finished_all: bool
    cpu_seconds: float = 0.0
    worker_mib: float = 0.0  # PSS of one worker's process tree at the end of the window
    enqueued: int = 0  # tasks the scheduler enqueued for the phase
    enqueue_seconds: float = 0.0  # and how long that took (workers running meanwhile)

    @property
    def enqueued_per_second(self) -> float:
        return self.enqueued / self.enqueue_seconds if self.enqueue_seconds > 0 else 0.0

    @property
    def per_second(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_unit(self) -> float:
        return 1000 * self.cpu_seconds / self.units if self.units else 0.0


@dataclass
class Run:
    """One number of workers: both phases."""

    workers: int
    concurrency: int
    fetches: Rate
    digests: Rate
    seeded_sources: int
    config_seconds: float
    prepare_seconds: float
    plan_digests_seconds: float
    mean_message_bytes: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--sources", type=int, default=2_000)
    p.add_argument("--follows", type=int, default=20, help="sources each recipient follows")
    p.add_argument("--items", type=int, default=10, help="entries per feed (6 h apart)")
    p.add_argument("--latency-ms", type=float, default=100)
    p.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    p.add_argument("--concurrency", type=int, default=1, help="processes per worker")
    p.add_argument("--window-s", type=float, default=90, help="longest measured window per phase")
    p.add_argument("--quick", action="store_true", help="200 sources, 2,000 recipients, 20 s")
    p.add_argument(
        "--database-url",
        default=os.environ.get(
            "PLN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_h"
        ),
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("PLN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.sources, args.recipients = min(args.sources, 200), min(args.recipients, 2_000)
        args.window_s = min(args.window_s, 20)
    return args


# -- the world: feeds, configuration, database ----------------------------------------


def serve_feeds(server: Any, sources: int, items: int) -> None:
    base = default_base()
    for f in range(sources):
        content_type, body = render_feed(SEED, f, 1, items, base)
        server.set_route(f"/feed/{f}", content_type, body)


def write_config(path: Path, args: argparse.Namespace, port: int, out: Path) -> None:
    """A config.toml: every source a feed of the server, every recipient due now."""
    rng = random.Random(SEED)
    send_at = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%H:%M")
    lines = [
        f'[database]\nurl = "{args.database_url}"\n',
        f'[queue]\nbroker_url = "{args.redis_url}"\ntask_queue = "bench-scale"\n',
        f'[email]\nbackend = "file"\nfolder = "{out}"\nfrom = "PLN Digest <digest@school.org>"\n',
        # Every feed is on one loopback host: the per-host limit would make this a
        # benchmark of one host's politeness, so it is lifted to the workers' count.
        f'[fetch]\nallow_private = ["127.0.0.1:{port}"]\nmax_per_host = 64\nworkers = 16\n',
    ]
    keys = [f"blog-{f}" for f in range(args.sources)]
    for f, key in enumerate(keys):
        url = f"http://127.0.0.1:{port}/feed/{f}"
        lines.append(f'[[sources]]\nkey = "{key}"\nkind = "rss"\nurl = "{url}"\n')
    for r in range(args.recipients):
        follow = ", ".join(f'"{k}"' for k in rng.sample(keys, min(args.follows, len(keys))))
        lines.append(
            f'[[recipients]]\nemail = "teacher{r}@school.org"\ntimezone = "UTC"\n'
            f'send_at = "{send_at}"\nfollow = [{follow}]\n'
        )
    path.write_text("\n".join(lines), encoding="utf-8")


def reset_database(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def flush_broker(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def count(url: str, sql: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


# -- workers and the queue -------------------------------------------------------------


def start_workers(
    n: int, concurrency: int, config: Path, logs: Path
) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PLN_CONFIG": str(config)}
    procs = []
    for w in range(n):
        log = (logs / f"worker-{w}.log").open("ab")
        pln = str(Path(sys.executable).with_name("pln"))  # the venv's entry point
        cmd = [pln, "worker", "--concurrency", str(concurrency)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def enqueue(app: Any, phase: str) -> int:
    """Enqueue every unit of `phase` as the scheduler's tick does (`Dispatcher.enqueue`:
    "queued" leases and tasks a batch at a time); how many were."""
    from aggregator.app.units import plan_digests, plan_fetches
    from aggregator.run.worker.celery_app import make_celery
    from aggregator.run.worker.dispatch import (
        Dispatcher,
        celery_publisher,
        digest_task,
        fetch_task,
    )

    queue = app.config.queue
    dispatcher = Dispatcher(app, queue, celery_publisher(make_celery(queue), queue), holder="bench")
    now = app.clock()
    if phase == "fetch":
        tasks = [fetch_task(key, now) for key in plan_fetches(app, timedelta(0))]
    else:
        tasks = [digest_task(unit) for unit in plan_digests(app)]
    return int(dispatcher.enqueue(tasks, now))


def measure(
    url: str, sql: str, total: int, window_s: float, deadline_s: float, pids: list[int]
) -> Rate:
    """Poll `sql` (units finished) until `total`, or `window_s` after the first one;
    the CPU the worker processes (`pids` and their children) used meanwhile."""
    started = time.perf_counter()
    first_at, first, cpu = None, 0, 0.0
    while True:
        done, now = count(url, sql), time.perf_counter()
        if first_at is None and done > 0:
            first_at, first, cpu = now, done, sum(map(tree_cpu_seconds, pids))
        if first_at is not None and (done >= total or now - first_at >= window_s):
            used = sum(map(tree_cpu_seconds, pids)) - cpu
            mib = max(map(tree_pss_mib, pids))
            return Rate(done - first, now - first_at, done >= total, used, mib)
        if now - started > deadline_s:
            return Rate(done - first, now - (first_at or now), False)
        time.sleep(0.5)


# -- one run ---------------------------------------------------------------------------


def run(args: argparse.Namespace, workers: int, port: int, tmp: Path) -> Run:
    from aggregator.app.config import load_config
    from aggregator.app.ingest import fetch_sources
    from aggregator.app.units import plan_digests
    from aggregator.app.wiring import build_app

    out = tmp / f"out-{workers}"
    out.mkdir()
    config = tmp / f"config-{workers}.toml"
    write_config(config, args, port, out)
    reset_database(args.database_url)
    flush_broker(args.redis_url)
    started = time.perf_counter()
    loaded = load_config(str(config))
    config_s = time.perf_counter() - started
    started = time.perf_counter()
    with build_app(loaded) as app:  # migrates and syncs, once
        prepare_s = time.perf_counter() - started
        print(f"  read config.toml in {config_s:.1f} s, prepared the database in {prepare_s:.1f} s")
        fetches = phase(args, app, "fetch", workers, config, tmp)
        unfetched = [
            s.key
            for s in app.repo.source_statuses(None, with_post_counts=False)
            if s.last_success_at is None
        ]
        if unfetched:
            fetch_sources(app, unfetched)
        started = time.perf_counter()
        plan_digests(app)  # what the scheduler does each tick, timed alone (it enqueues nothing)
        plan_s = time.perf_counter() - started
        digests = phase(args, app, "digest", workers, config, tmp)
    sizes = [p.stat().st_size for p in out.iterdir()]
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    return Run(
        workers,
        args.concurrency,
        fetches,
        digests,
        len(unfetched),
        config_s,
        prepare_s,
        plan_s,
        mean,
    )


def phase(
    args: argparse.Namespace, app: Any, name: str, workers: int, config: Path, tmp: Path
) -> Rate:
    procs = start_workers(workers, args.concurrency, config, tmp)
    try:
        started = time.perf_counter()
        total = enqueue(app, name)
        enqueue_s = time.perf_counter() - started
        print(
            f"  enqueued {total:,} in {enqueue_s:.1f} s ({total / max(enqueue_s, 1e-9):,.0f}/s)",
            flush=True,
        )
        sql = (
            "SELECT count(*) FROM sources WHERE last_attempt_at IS NOT NULL"
            if name == "fetch"
            else f"SELECT count(*) FROM deliveries WHERE status IN {FINISHED}"
        )
        pids = [proc.pid for proc in procs]
        rate = measure(args.database_url, sql, total, args.window_s, args.window_s + 300, pids)
        rate = replace(rate, enqueued=total, enqueue_seconds=enqueue_s)
    finally:
        stop_workers(procs)
        flush_broker(args.redis_url)  # what the window left in the queue
    what = "fetches" if name == "fetch" else "digests"
    print(
        f"  {workers} worker(s) x {args.concurrency}: {rate.per_second:7.1f} {what}/s "
        f"({rate.units} in {rate.seconds:.1f} s{', all' if rate.finished_all else ''}; "
        f"workers' CPU {rate.cpu_ms_per_unit:.0f} ms per unit)",
        flush=True,
    )
    return rate


TABLES = ("posts", "digests", "deliveries", "digest_posts")


def table_sizes(url: str) -> dict[str, tuple[int, int]]:
    """Rows and bytes (with indexes and TOAST: pg_total_relation_size) per table."""
    return {
        table: (
            count(url, f"SELECT count(*) FROM {table}"),
            count(url, f"SELECT pg_total_relation_size('{table}')"),
        )
        for table in TABLES
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from aggregator.run.demo.server import FeedServer

    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"{args.recipients:,} recipients x {args.follows} of {args.sources:,} sources "
        f"({args.items} entries each), {args.latency_ms:g} ms latency, "
        f"workers {counts} x concurrency {args.concurrency}, window {args.window_s:g} s",
        flush=True,
    )
    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        FeedServer(latency_s=args.latency_ms / 1000) as server,
    ):
        serve_feeds(server, args.sources, args.items)
        for n in counts:
            runs.append(run(args, n, server.port, Path(tmp)))
        sizes = table_sizes(args.database_url)
    report(runs, sizes)
    if args.json:
        data = {
            "args": vars(args) | {"json": str(args.json)},
            "runs": [asdict(r) for r in runs],
            "tables": sizes,
        }
        args.json.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return 0


def report(runs: list[Run], sizes: dict[str, tuple[int, int]]) -> None:
    print()
    for r in runs:
        print(
            f"{r.workers} worker(s) x {r.concurrency}: {r.fetches.per_second:.1f} fetches/s "
            f"({r.fetches.cpu_ms_per_unit:.0f} ms CPU each), {r.digests.per_second:.1f} digests/s "
            f"({r.digests.cpu_ms_per_unit:.0f} ms CPU each); a worker's memory "
            f"{max(r.fetches.worker_mib, r.digests.worker_mib):.0f} MiB; the scheduler enqueued "
            f"{r.fetches.enqueued_per_second:,.0f} fetches/s, {r.digests.enqueued_per_second:,.0f} "
            "digests/s"
        )
    if len(runs) >= 2 and runs[0].fetches.per_second and runs[0].digests.per_second:
        one, two = runs[0], runs[-1]
        fetches = two.fetches.per_second / one.fetches.per_second
        digests = two.digests.per_second / one.digests.per_second
        print(f"ratio {two.workers}:{one.workers}: fetches x{fetches:.2f}, digests x{digests:.2f}")
    last = runs[-1]
    print(
        f"config.toml read in {last.config_seconds:.1f} s, database prepared in "
        f"{last.prepare_seconds:.1f} s, digests planned in {last.plan_digests_seconds:.2f} s; "
        f"mean message {last.mean_message_bytes / 1000:.1f} kB"
    )
    for table, (rows, size) in sizes.items():
        each = f"{size / rows:,.0f} bytes a row" if rows else "empty"
        print(f"  {table:16} {rows:>9,} rows {size / 1e6:8.1f} MB  {each}")


if __name__ == "__main__":
    sys.exit(main())

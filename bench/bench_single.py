"""One recipient's `pln digest`, against start-up and rendering alone.

    python bench/bench_single.py [--posts 25000 250000] [--repeat 5] [--json FILE]

For each size, stores that many posts (the corpus of `bench_digest.py`, 200
sources, about 2,500 posts a day: more posts span more days, so a digest's
window holds the same number) into a fresh SQLite file behind a generated
configuration, then times, each in a fresh process, `--repeat` times:

- start-up: what `pln digest` does before building: the interpreter,
  its imports, `load_config`, `build_app` (opening and checking the
  database), and nothing else;
- render: the same start-up, then building the digest untimed, then
  rendering it (text), timed: templates are loaded on first use;
- `pln digest`: the real command, `--format text --out` a file.

It reports the medians and `pln digest / (start-up + render)`, which the
issue holds to at most 2, and no larger for the larger database. It also
prints the query plan of the read a digest makes. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_digest import SEED, load, make_sources

POSTS_PER_DAY = 2_500
RECIPIENT = "ana@school.example"
FOLLOWS = 20


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--posts", type=int, nargs="+", default=[25_000, 250_000])
    p.add_argument("--repeat", type=int, default=5, help="runs of each measure (median kept)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--worker", choices=["startup", "render"], help=argparse.SUPPRESS)
    p.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    return p.parse_args()


def write_config(folder: Path, sources: list[str], follow: list[str]) -> Path:
    """A configuration: SQLite in `folder`, rss `sources`, one recipient."""
    blocks = ['[database]\nurl = "sqlite:///pln.db"\n']
    blocks += [
        f'[[sources]]\nkey = "{key}"\nkind = "rss"\nurl = "https://feeds.example/{key}"\n'
        for key in sources
    ]
    quoted = ", ".join(f'"{key}"' for key in follow)
    blocks.append(
        f'[[recipients]]\nemail = "{RECIPIENT}"\nname = "Ana"\n'
        f'timezone = "UTC"\nreading_minutes = 5\nfollow = [{quoted}]\n'
    )
    path = folder / "config.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def store(folder: Path, posts: int, now: datetime) -> Path:
    """Write the configuration and store `posts` posts ending at `now`."""
    from aggregator.app.config import load_config
    from aggregator.app.wiring import build_app

    rng = random.Random(SEED)
    sources = make_sources(200, rng)
    keys = [source.key for source, _ in sources]
    path = write_config(folder, keys, rng.sample(keys, FOLLOWS))
    # Posts are dated back from the real clock, which `pln digest` reads.
    with build_app(load_config(path), clock=lambda: now, connectors={}) as app:
        load(app, sources, posts, max(1, posts // POSTS_PER_DAY), rng, now)
    return path


def worker(kind: str, config: Path) -> None:
    """Start up as `pln digest` does; for "render", then time rendering its digest."""
    import aggregator.run.cli.commands  # noqa: F401  (the CLI's imports, as `pln` pays them)
    from aggregator.app.build import _digest_for, render_digest
    from aggregator.app.config import load_config
    from aggregator.app.wiring import build_app

    with build_app(load_config(config)) as app:
        if kind == "render":
            digest = _digest_for(app, RECIPIENT, None)
            started = time.perf_counter()
            render_digest(digest, "text")
            print(json.dumps({"render_s": time.perf_counter() - started}))


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def measure(config: Path, repeat: int) -> dict[str, float]:
    """Medians of start-up, render and `pln digest`, in seconds."""
    me = [sys.executable, str(Path(__file__).resolve())]
    pln = [str(Path(sys.executable).with_name("pln"))]
    out = config.with_name("digest.txt")
    startup, render, full = [], [], []
    for _ in range(repeat):
        startup.append(timed([*me, "--worker", "startup", "--config", str(config)])[0])
        _, printed = timed([*me, "--worker", "render", "--config", str(config)])
        render.append(json.loads(printed)["render_s"])
        args = ["digest", "--config", str(config), "--recipient", RECIPIENT, "--out", str(out)]
        full.append(timed([*pln, *args])[0])
    figures = {
        "startup_s": statistics.median(startup),
        "render_s": statistics.median(render),
        "digest_s": statistics.median(full),
    }
    figures["ratio"] = figures["digest_s"] / (figures["startup_s"] + figures["render_s"])
    return figures


def query_plan(config: Path) -> list[str]:
    """SQLite's plan for the read of one recipient's window of posts."""
    import sqlite3

    from aggregator.app.config import load_config

    follow = load_config(config).recipients[0].follow
    marks = ", ".join("?" for _ in follow)
    sql = (
        f"EXPLAIN QUERY PLAN SELECT * FROM posts WHERE source_key IN ({marks}) "
        "AND published_at >= ? AND published_at < ? ORDER BY published_at DESC, external_id"
    )
    with sqlite3.connect(config.with_name("pln.db")) as db:
        rows = db.execute(sql, (*follow, "2026-01-01", "2027-01-01")).fetchall()
    return [str(row[-1]) for row in rows]


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args.worker, args.config)
        return
    results = {}
    for posts in args.posts:
        with tempfile.TemporaryDirectory(prefix="pln-bench-single-") as folder:
            now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
            started = time.perf_counter()
            config = store(Path(folder), posts, now)
            stored_s = time.perf_counter() - started
            figures = {"stored_s": stored_s, **measure(config, args.repeat)}
            plan = query_plan(config)
        results[posts] = figures
        print(
            f"{posts:,} posts (stored in {stored_s:.0f} s): start-up {figures['startup_s']:.3f} s, "
            f"render {figures['render_s'] * 1000:.1f} ms, pln digest {figures['digest_s']:.3f} s: "
            f"{figures['ratio']:.2f}x start-up + render"
        )
        print("  query plan: " + "; ".join(plan))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Fetch benchmark: PLN Digest against lemon24/reader on the same feeds, in the same run.

    python bench/bench_fetch.py [--feeds 500] [--items 50] [--latency-ms 100]
                                [--workers 16] [--quick] [--only project|reader]

The parent generates the corpus and serves it from a loopback server with
latency, ETag and Last-Modified (aggregator.run.demo.server.FeedServer). Each
system runs each phase in its own subprocess, so imports and state never mix
and its memory is its own; see bench/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus import default_base, render_feed
from proctree import PeakMemory

if TYPE_CHECKING:  # imported lazily: a worker process must not load the project
    from aggregator.run.demo.server import FeedServer

PHASES = ("first", "day2", "all304")
PHASE_TITLES = {"first": "first fetch", "day2": "day-2 fetch", "all304": "all-304 fetch"}
SEED = 20240901


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--feeds", type=int, default=500, help="number of feeds (default 500)")
    p.add_argument("--items", type=int, default=50, help="entries per feed (default 50)")
    p.add_argument("--latency-ms", type=float, default=100, help="server delay per request")
    p.add_argument("--workers", type=int, default=16, help="parallel fetches for every system")
    p.add_argument("--quick", action="store_true", help="50 feeds: a smoke run in seconds")
    p.add_argument("--only", choices=("project", "reader"), help="run one system only")
    p.add_argument("--json", type=Path, help="also write all results to this file")
    # Internal: run one measured phase in this process (see workers.py).
    p.add_argument("--worker", choices=("project", "reader", "bare"), help=argparse.SUPPRESS)
    p.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.feeds = min(args.feeds, 50)
    return args


def serve_day(server: FeedServer, feeds: int, items: int, day: int) -> None:
    """Publish every feed as it stands on `day`."""
    base = default_base()
    for f in range(feeds):
        content_type, body = render_feed(SEED, f, day, items, base)
        server.set_route(f"/feed/{f}", content_type, body)


def run_worker(
    system: str, workdir: Path, args: argparse.Namespace, base_url: str
) -> dict[str, Any]:
    """One measured phase of one system in a fresh subprocess; its JSON plus tree memory."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        system,
        "--dir",
        str(workdir),
        "--base-url",
        base_url,
        "--feeds",
        str(args.feeds),
        "--workers",
        str(args.workers),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakMemory(proc.pid) as memory:
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{system} worker failed ({proc.returncode}):\n{err[-4000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"] = memory.peak_mib
    return result


def run_all(args: argparse.Namespace) -> dict[str, dict[str, dict[str, Any]]]:
    """Every phase for every system, plus the bare-requests floor for the 304 phase."""
    from aggregator.run.demo.server import FeedServer

    systems = [args.only] if args.only else ["project", "reader"]
    results: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in PHASES}
    with (
        tempfile.TemporaryDirectory(prefix="pln-bench-") as tmp,
        FeedServer(latency_s=args.latency_ms / 1000) as server,
    ):
        dirs = {s: Path(tmp, s) for s in systems}
        for d in dirs.values():
            d.mkdir()
        for phase in PHASES:
            started = time.perf_counter()
            if phase != "all304":  # all-304 serves day 2 again, unchanged
                serve_day(server, args.feeds, args.items, 1 if phase == "first" else 2)
            print(
                f"[{PHASE_TITLES[phase]}] corpus ready in {time.perf_counter() - started:.1f}s",
                file=sys.stderr,
            )
            for system in systems:
                results[phase][system] = run_worker(system, dirs[system], args, server.base_url)
                print(f"  {system}: {results[phase][system]['wall_s']:.2f}s", file=sys.stderr)
        results["all304"]["bare"] = run_worker("bare", Path(tmp), args, server.base_url)
    return results


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    """Print the figures of every run, the ratios, and the targets."""
    print(
        f"\n{args.feeds} feeds x {args.items} items, {args.latency_ms:g} ms latency, "
        f"{args.workers} workers\n"
    )
    print(
        f"{'phase':<14}{'system':<9}{'wall s':>8}{'CPU s':>8}{'posts':>8}"
        f"{'posts/s':>9}{'peak MiB':>10}{'main MiB':>10}{'errors':>8}"
    )
    for phase in PHASES:
        for system, r in results[phase].items():
            rate = r["posts"] / r["wall_s"] if r["wall_s"] > 0 else 0.0
            print(
                f"{PHASE_TITLES[phase]:<14}{system:<9}{r['wall_s']:>8.2f}{r['cpu_s']:>8.2f}"
                f"{r['posts']:>8}{rate:>9.0f}{r['peak_mib']:>10.0f}{r['main_hwm_mib']:>10.0f}"
                f"{len(r['errors']):>8}"
            )
    for phase in PHASES:
        for system, r in results[phase].items():
            for error in r["errors"][:3]:
                print(f"  {PHASE_TITLES[phase]} {system} error: {error}")
    bare = results["all304"]["bare"]
    print(
        f"\nbare requests, unconditional download of every feed: {bare['download_s']:.2f}s "
        "(the network floor of a first fetch)"
    )
    if "project" in results["first"]:
        _print_targets(results)


def _print_targets(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    proj = {p: results[p]["project"] for p in PHASES}
    checks: list[tuple[str, float, float]] = [
        (
            "all-304 wall / bare conditional requests",
            proj["all304"]["wall_s"] / results["all304"]["bare"]["wall_s"],
            1.2,
        ),
        ("peak memory MiB (largest phase)", max(r["peak_mib"] for r in proj.values()), 150),
    ]
    if "reader" in results["first"]:
        checks[:0] = [
            (
                "first fetch wall / reader",
                proj["first"]["wall_s"] / results["first"]["reader"]["wall_s"],
                0.4,
            ),
            (
                "day-2 fetch wall / reader",
                proj["day2"]["wall_s"] / results["day2"]["reader"]["wall_s"],
                0.25,
            ),
        ]
        print(
            "\nratios project / reader (wall, CPU): "
            + ", ".join(
                f"{PHASE_TITLES[p]} {_ratio(proj[p]['wall_s'], results[p]['reader']['wall_s'])} "
                f"{_ratio(proj[p]['cpu_s'], results[p]['reader']['cpu_s'])}"
                for p in PHASES
            )
        )
    print("\ntargets:")
    for name, value, limit in checks:
        verdict = "ok" if value <= limit else "MISSED"
        print(f"  {name:<44}{value:>8.2f}  <= {limit:<6g}{verdict}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        from workers import main as worker_main

        worker_main(args.worker, args.dir, args.base_url, args.feeds, args.workers)
        return
    results = run_all(args)
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

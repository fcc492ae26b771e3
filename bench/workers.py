"""The measured side of the benchmark: one system, one phase, in its own process.

Each worker prints one JSON object on stdout: wall and CPU seconds of the
fetch call alone (set-up such as opening the database is excluded for every
system alike), posts stored by it, feeds that failed, and the peak RSS of the
worker's main process (VmHWM). The parent adds the peak memory of the whole process tree.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from proctree import tree_cpu_seconds, vm_hwm_mib


def feed_urls(base_url: str, feeds: int) -> list[str]:
    """The corpus URLs, in a fixed order."""
    return [f"{base_url}/feed/{i}" for i in range(feeds)]


def _measure(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `call`, timing it; CPU counts this process and any it started."""
    pid = os.getpid()
    cpu0, wall0 = tree_cpu_seconds(pid), time.perf_counter()
    result = call()
    wall = time.perf_counter() - wall0
    # Read before the call's helpers (e.g. a parse pool) are shut down.
    cpu = tree_cpu_seconds(pid) - cpu0
    return {"wall_s": wall, "cpu_s": cpu, **result}


def run_project(workdir: Path, base_url: str, feeds: int, workers: int) -> dict[str, Any]:
    """PLN Digest: `fetch_sources` over every configured feed."""
    from aggregator import load_config
    from aggregator.app.ingest import fetch_sources
    from aggregator.app.wiring import build_app

    config_path = workdir / "config.toml"
    if not config_path.exists():
        _write_project_config(config_path, workdir / "pln.db", base_url, feeds, workers)
    app = build_app(load_config(config_path))
    try:

        def fetch() -> dict[str, Any]:
            outcomes = fetch_sources(app)
            errors = [f"{o.source_key}: {o.error}" for o in outcomes if o.error]
            return {
                "posts": sum(o.new_posts for o in outcomes),
                "errors": errors,
                "not_modified": sum(1 for o in outcomes if o.not_modified),
            }

        return _measure(fetch)
    finally:
        app.close()


def _write_project_config(path: Path, db: Path, base_url: str, feeds: int, workers: int) -> None:
    host_port = base_url.removeprefix("http://")
    lines = [
        "[database]",
        f'url = "sqlite:///{db.as_posix()}"',
        "",
        "[fetch]",
        "timeout_seconds = 60",
        f"workers = {workers}",
        # Every feed of the corpus is served by one loopback server, where
        # the real corpus would be 500 blogs on as many hosts: the per-host
        # politeness limit would otherwise hold the project (and only the
        # project) to a handful of requests at once.
        f"max_per_host = {workers}",
        f'allow_private = ["{host_port}"]',
        "",
    ]
    for i, url in enumerate(feed_urls(base_url, feeds)):
        lines += ["[[sources]]", f'key = "feed-{i}"', 'kind = "rss"', f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def run_reader(workdir: Path, base_url: str, feeds: int, workers: int) -> dict[str, Any]:
    """lemon24/reader: `update_feeds(workers=N)` over every feed, scheduled or not."""
    import reader

    db = reader.make_reader(str(workdir / "reader.sqlite"))
    try:
        for url in feed_urls(base_url, feeds):
            db.add_feed(url, exist_ok=True)
        before = db.get_entry_counts().total or 0

        def fetch() -> dict[str, Any]:
            # scheduled=False: update every feed now, as `pln fetch` does,
            # instead of waiting for reader's own update interval.
            db.update_feeds(workers=workers, scheduled=False)
            return {"posts": (db.get_entry_counts().total or 0) - before}

        result = _measure(fetch)
        broken = [f"{f.url}: {f.last_exception}" for f in db.get_feeds(broken=True)]
        return {**result, "errors": broken}
    finally:
        db.close()


def run_bare(base_url: str, feeds: int, workers: int) -> dict[str, Any]:
    """The floor: conditional GETs with requests in a thread pool, nothing parsed or stored."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        s: requests.Session = local.session
        return s

    def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        response = session().get(url, headers=headers, timeout=60)
        _ = response.content  # read the body, as a real client must, then drop it
        return response.status_code, {
            "If-None-Match": response.headers["ETag"],
            "If-Modified-Since": response.headers["Last-Modified"],
        }

    urls = feed_urls(base_url, feeds)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Learn each feed's validators, as a stored cursor would hold them;
        # timed apart: downloading every body is the floor of a first fetch.
        started = time.perf_counter()
        conditional = [h for _, h in pool.map(lambda u: get(u, {}), urls)]
        download_s = time.perf_counter() - started

        def fetch() -> dict[str, Any]:
            statuses = [
                s for s, _ in pool.map(lambda a: get(*a), zip(urls, conditional, strict=False))
            ]
            return {
                "posts": 0,
                "not_modified": statuses.count(304),
                "download_s": download_s,
                "errors": [f"HTTP {s}" for s in statuses if s != 304],
            }

        return _measure(fetch)


def main(system: str, workdir: Path, base_url: str, feeds: int, workers: int) -> None:
    """Run one measured phase and print its JSON result."""
    if system == "project":
        result = run_project(workdir, base_url, feeds, workers)
    elif system == "reader":
        result = run_reader(workdir, base_url, feeds, workers)
    else:
        result = run_bare(base_url, feeds, workers)
    # Not ru_maxrss: Linux carries it over from the forking parent across exec.
    result["main_hwm_mib"] = vm_hwm_mib(os.getpid())
    print(json.dumps(result))

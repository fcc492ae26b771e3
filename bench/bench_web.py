"""Web benchmark: how long the admin pages take to render at a large school's size.

    python bench/bench_web.py [--sources 2000] [--recipients 5000] [--runs 20] [--json FILE]

Writes a config.toml with `--sources` sources of every kind (a fifth of
them failing, some stale, some paused, each with a week of posts stored)
into a temporary folder, signs an admin in through the real form and times
GET /admin/sources/ through the real Flask app (Flask's test client: no
socket, so the figure is the page's own cost: reading the configuration's
state, two database queries, rendering). Reports the median and the
slowest of `--runs` requests after one warm-up; the target is under 300 ms.

Each page has its own function (`bench_sources`, ...) returning a `Timing`;
`main` runs them all and prints one line each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.app.admins import create_admin
from aggregator.app.config import load_config
from aggregator.app.wiring import build_app
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult
from aggregator.run.web.app import create_app

SECRET = "bench-web-secret-0123456789abcdef"
ADMIN, PASSWORD = "admin@school.org", "a long enough bench password"
TARGET_MS = 300.0
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Timing:
    """One page's render times over the runs, in milliseconds."""

    page: str
    size: str
    median_ms: float
    slowest_ms: float
    bytes: int

    def line(self) -> str:
        """One line of the report."""
        verdict = "ok" if self.median_ms < TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
        return (
            f"{self.page:<28} {self.size:<16} median {self.median_ms:7.1f} ms  "
            f"slowest {self.slowest_ms:7.1f} ms  {self.bytes / 1024:7.0f} KiB  {verdict}"
        )


def _source_entry(number: int) -> str:
    """One [[sources]] entry; the kinds in turn (those needing no secret)."""
    key = f"source-{number:05d}"
    name = f'name = "Teacher blog {number} <b>&</b>"'
    paused = "paused = true\n" if number % 50 == 0 else ""
    if number % 3 == 0:
        body = f'kind = "mastodon_tag"\ninstance = "mastodon.social"\ntag = "tag{number}"'
    else:
        body = f'kind = "rss"\nurl = "https://blog{number}.example.org/feed/"'
    return f'[[sources]]\nkey = "{key}"\n{name}\n{body}\n{paused}'


def write_config(folder: Path, sources: int) -> Path:
    """config.toml with `sources` sources and a SQLite database beside it."""
    entries = "\n".join(_source_entry(n) for n in range(sources))
    path = folder / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///pln.db"\n\n[web]\nsecret_env = "PLN_WEB_SECRET"\n\n'
        + entries,
        encoding="utf-8",
    )
    return path


def store_history(config_path: Path) -> None:
    """A fetch per source: most with a week of posts, a fifth failing."""
    config = load_config(config_path)
    with build_app(config, connectors={}) as app:
        create_admin(app, ADMIN, PASSWORD)
        for number, source in enumerate(config.sources):
            if number % 5 == 4:
                error = "not found (404): check the URL"
                app.repo.save_failure(source.key, error, NOW, NOW + timedelta(hours=1))
                continue
            posts = tuple(_post(source.key, n, NOW - timedelta(hours=7 * n)) for n in range(20))
            app.repo.save_fetch(source.key, FetchResult(posts=posts), NOW, NOW + timedelta(hours=1))


def _post(key: str, n: int, at: datetime) -> Post:
    text = f"Post {n} of {key}: formative assessment ideas for grade {n % 12 + 1}."
    return Post(
        source_key=key,
        external_id=f"{key}-{n}",
        network="rss",
        url=f"https://example.org/{key}/{n}",
        author="A teacher",
        title=f"Idea {n}",
        text=text,
        html=f"<p>{text}</p>",
        published_at=at,
        content_hash=f"{key}-{n}",
    )


def signed_in_client(config_path: Path) -> Any:
    """A Flask test client of the real app, signed in through the form."""
    import re

    app = create_app(config_path, connectors={})
    client = app.test_client()
    form = client.get("/admin/sign-in").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found, "no CSRF token on the sign-in page"
    data = {"email": ADMIN, "password": PASSWORD, "csrf_token": found.group(1)}
    assert client.post("/admin/sign-in", data=data).status_code == 302
    return client


def time_page(client: Any, url: str, runs: int) -> tuple[list[float], int]:
    """Milliseconds per GET of `url` after one warm-up, and the page's size."""
    first = client.get(url)
    assert first.status_code == 200, first.status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times, len(first.data)


def bench_sources(folder: Path, sources: int, runs: int) -> Timing:
    """GET /admin/sources/ with `sources` sources."""
    config_path = write_config(folder, sources)
    store_history(config_path)
    times, size = time_page(signed_in_client(config_path), "/admin/sources/", runs)
    return Timing(
        "/admin/sources/", f"{sources:,} sources", statistics.median(times), max(times), size
    )


def write_recipients_config(folder: Path, recipients: int, sources: int = 50) -> Path:
    """config.toml with `sources` rss sources and `recipients` recipients
    across time zones, each following a few sources."""
    zones = ("America/Chicago", "Europe/Madrid", "Asia/Kolkata", "Australia/Sydney", "UTC")
    entries = [
        f'[[sources]]\nkey = "blog-{n:03d}"\nkind = "rss"\nurl = "https://blog{n}.example.org/feed/"\n'
        for n in range(sources)
    ]
    for n in range(recipients):
        follows = ", ".join(f'"blog-{(n + k) % sources:03d}"' for k in range(3))
        entries.append(
            f'[[recipients]]\nemail = "teacher{n:05d}@school.org"\nname = "Teacher {n} <i>&</i>"\n'
            f'timezone = "{zones[n % len(zones)]}"\nsend_at = "{6 + n % 3:02d}:30"\n'
            f"follow = [{follows}]\n"
        )
    path = folder / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///pln.db"\n\n[web]\nsecret_env = "PLN_WEB_SECRET"\n\n'
        + "\n".join(entries),
        encoding="utf-8",
    )
    return path


def store_deliveries(config_path: Path) -> None:
    """The admin's account, and yesterday's delivery claimed for every other recipient."""
    config = load_config(config_path)
    with build_app(config, connectors={}) as app:
        create_admin(app, ADMIN, PASSWORD)
        yesterday = (NOW - timedelta(days=1)).date()
        for recipient in config.recipients[::2]:
            app.repo.claim_delivery(recipient.email, yesterday, NOW, timedelta(minutes=5))


def bench_recipients(folder: Path, recipients: int, runs: int) -> Timing:
    """GET /admin/recipients/ with `recipients` recipients (the first page of the list)."""
    config_path = write_recipients_config(folder, recipients)
    store_deliveries(config_path)
    times, size = time_page(signed_in_client(config_path), "/admin/recipients/", runs)
    return Timing(
        "/admin/recipients/",
        f"{recipients:,} recipients",
        statistics.median(times),
        max(times),
        size,
    )


BENCHES: list[Callable[[argparse.Namespace, Path], Timing]] = [
    lambda args, folder: bench_sources(folder / "sources", args.sources, args.runs),
    lambda args, folder: bench_recipients(folder / "sources", args.recipients, args.runs),
]
"""One entry per page; each gets the arguments and a fresh folder of its own."""


def main() -> None:
    """Run every page's benchmark and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args()
    os.environ["PLN_WEB_SECRET"] = SECRET
    results = []
    with tempfile.TemporaryDirectory(prefix="pln-bench-web-") as tmp:
        for bench in BENCHES:
            folder = Path(tmp) / str(len(results))
            folder.mkdir()
            (folder / "sources").mkdir()
            results.append(bench(args, folder))
            print(results[-1].line())
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()

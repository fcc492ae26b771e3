"""`pln demo`: the real pipeline, offline, on sample feeds shipped in the package.

A loopback server serves the sample feeds, a configuration that allows
exactly that host:port is written next to a fresh SQLite database, and the
same code as the service fetches, stores and builds the digest.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aggregator.app.build import build_digest, render_digest
from aggregator.app.config import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.wiring import build_app
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.errors import PLNError
from aggregator.run.demo.server import FeedServer, demo_feeds
from digests.wording import reading_phrase


@dataclass(frozen=True, slots=True)
class DemoReport:
    """Where the demo wrote its digest, and a one-line summary."""

    html_path: Path
    text_path: Path
    config_path: Path
    summary: str


_TEMPLATE = resources.files("aggregator.run.demo").joinpath("demo.toml")


def run_demo(
    out: Path | None = None, clock: Clock = utc_now, config: Path | None = None
) -> DemoReport:
    """Fetch the sample feeds into a new database in `out` and write a digest there.

    `out` defaults to a new temporary folder; a demo database already there
    is replaced (the demo always starts fresh). The demo's configuration is
    written to `config` (default `out/config.toml`), so other commands can be
    tried on the demo's database with `--config`; raises PLNError rather than
    overwrite a file that `pln demo` did not write.
    """
    # Absolute: the configuration's relative paths are read from its own folder.
    folder = (
        Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="pln-demo-"))
    ).resolve()
    config_path = Path(config).resolve() if config is not None else folder / "config.toml"
    template = _TEMPLATE.read_text("utf-8")
    if config_path.exists() and not _is_demo_config(config_path, template):
        raise PLNError(
            f"{config_path} exists and is not a demo configuration; "
            "name another file with --config or leave it out"
        )
    folder.mkdir(parents=True, exist_ok=True)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    (folder / "pln.db").unlink(missing_ok=True)
    now = clock()
    with FeedServer(demo_feeds(now)) as server:
        config_path.write_text(
            template.format(port=server.port, db_url=f"sqlite:///{(folder / 'pln.db').as_posix()}"),
            encoding="utf-8",
        )
        with build_app(load_config(config_path), clock=clock) as app:
            outcomes = fetch_sources(app)
            recipient = app.config.recipients[0]
            digest = build_digest(app, recipient, clock())
    html_path, text_path = folder / "digest.html", folder / "digest.txt"
    html_path.write_text(render_digest(digest, "html"), encoding="utf-8")
    text_path.write_text(render_digest(digest, "text"), encoding="utf-8")
    stored = sum(o.new_posts for o in outcomes)
    failed = [o.source_key for o in outcomes if o.error]
    summary = (
        f"Fetched {stored} posts from {len(outcomes) - len(failed)} of {len(outcomes)} feeds; "
        f"{recipient.name or recipient.email}'s digest has {len(digest.entries)} stories "
        f"and {len(digest.also)} headlines, {reading_phrase(digest.reading_seconds)} to read."
    )
    if failed:
        summary += f" Failed: {', '.join(failed)}."
    return DemoReport(html_path, text_path, config_path, summary)


def _is_demo_config(path: Path, template: str) -> bool:
    """Whether `path` starts like the configurations `pln demo` writes."""
    try:
        with path.open(encoding="utf-8") as file:
            return file.readline() == template.splitlines(keepends=True)[0]
    except (OSError, UnicodeDecodeError):
        return False

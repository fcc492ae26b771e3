"""The `pln` command line: thin commands over the library.

Each command parses its options, calls one library function and prints.
Errors a user can cause (`PLNError`, a file that cannot be written) print as
one line and exit 1; anything else prints one line pointing to the log file,
which holds the traceback. No traceback ever reaches the terminal unless
`--verbose` asks for the log there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from aggregator.app.config import load_config
from aggregator.app.wiring import App, build_app, build_connectors, build_mailer
from aggregator.domain.delivery import OutcomeStatus
from aggregator.domain.errors import ConfigError, PLNError
from aggregator.run.cli import output as console

log = logging.getLogger(__name__)

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    default="config.toml",
    envvar="PLN_CONFIG",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Configuration file (or set PLN_CONFIG).",
)


class Group(click.Group):
    """Turns every error into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for line in console.config_problem_lines(exc):
                click.echo(f"error: {line}", err=True)
            ctx.exit(1)
        except PLNError as exc:
            click.echo(f"error: {_first_line(exc)}", err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            # A file the user named (--out, a log folder) cannot be written: their
            # fix, not a bug, but the traceback is kept in case it is one.
            log.exception("file system error")
            click.echo(
                f"error: {exc.strerror or _first_line(exc)}"
                + (f": {exc.filename}" if exc.filename else ""),
                err=True,
            )
            ctx.exit(1)
        except Exception as exc:
            log.exception("unexpected error")
            click.echo(
                f"error: unexpected {exc.__class__.__name__}: {_first_line(exc)} "
                f"({console.log_hint()})",
                err=True,
            )
            ctx.exit(1)


def _first_line(exc: BaseException) -> str:
    """The error's message on one line: bad input gets a one-line error."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


@click.group(cls=Group)
@click.option("--verbose", "-v", is_flag=True, help="Also print the log to stderr.")
@click.version_option(package_name="pln-digest")
def main(verbose: bool) -> None:
    """PLN Digest: a teacher's professional learning network as one short morning read."""
    console.setup_logging(verbose)


@contextmanager
def _app(config_path: str) -> Iterator[App]:
    with build_app(load_config(config_path)) as app:
        yield app


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the database and the digest (default: a new temporary folder).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the demo's configuration (default: config.toml in the --out folder).",
)
def demo(out: Path | None, config_path: Path | None) -> None:
    """Run the whole pipeline offline on shipped sample feeds and write a digest."""
    from aggregator.run.demo.pipeline import run_demo

    report = run_demo(out, config=config_path)
    click.echo(f"HTML digest: {report.html_path}")
    click.echo(f"Text digest: {report.text_path}")
    click.echo(report.summary)
    click.echo(f"Try the other commands on it: pln status --config {report.config_path}")


@main.command()
@CONFIG_OPTION
@click.option("--online", is_flag=True, help="Also try each source's credentials and URL.")
def check(config_path: str, online: bool) -> None:
    """Validate the configuration (and, with --online, every source)."""
    from aggregator.app.checks import billed_reads, check_sources, config_gaps

    config = load_config(config_path)
    errors, notes = config_gaps(config)
    for line in errors:
        click.echo(f"error: {line}", err=True)
    if errors:
        raise SystemExit(1)
    for line in notes:
        click.echo(f"note: {line}")
    click.echo(
        f"{config.path}: OK — {console.counted(len(config.sources), 'source')}, "
        f"{console.counted(len(config.recipients), 'recipient')}"
    )
    for key, reads in billed_reads(config.sources).items():
        click.echo(
            f"{key}: at most {reads:,} X reads a month (max_posts_per_day x 30); X bills each read"
        )
    if online:
        # No database: checking credentials must work before it exists.
        with build_connectors(config) as connectors:
            problems = check_sources(connectors.by_kind, config.sources)
        console.print_check(problems)
        if any(problems.values()):
            raise SystemExit(1)


@main.command()
@CONFIG_OPTION
@click.option(
    "--source", "sources", multiple=True, metavar="KEY", help="Fetch only this source (repeatable)."
)
def fetch(config_path: str, sources: Sequence[str]) -> None:
    """Fetch every active source now (or those named), whether due or not; then
    delete posts older than [storage] keep_days that no sent digest showed."""
    from aggregator.app.ingest import fetch_sources
    from aggregator.app.retention import prune_old_posts

    with _app(config_path) as app:
        total = len(sources) or len(app.config.sources)
        with console.fetch_progress(total) as progress:
            outcomes = fetch_sources(app, sources, progress=progress)
        pruned, keep_days = prune_old_posts(app), app.config.storage.keep_days
    console.print_fetch_summary(outcomes)
    if pruned:
        click.echo(f"Pruned {console.counted(pruned, 'post')} older than {keep_days} days.")


@main.command()
@CONFIG_OPTION
@click.option("--recipient", "email", required=True, help="The recipient's email address.")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Build the digest as it is sent on this local day (default: now).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "text"]), default="text", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Instead of the digest, list every candidate with its score parts and why "
    "it was chosen or skipped.",
)
def digest(
    config_path: str, email: str, day: Any, fmt: str, out: Path | None, explain: bool
) -> None:
    """Build (without sending) one recipient's digest."""
    from aggregator.app.build import explain_digest_for, render_digest_for

    when = day.date() if day else None
    with _app(config_path) as app:
        if explain:
            body = "\n".join(explain_digest_for(app, email, when))
        else:
            body = render_digest_for(app, email, fmt, day=when)
    if out is None:
        click.echo(body)
    else:
        out.write_text(body, encoding="utf-8")
        click.echo(f"Wrote {out}")


@main.command()
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="List what is due; send and record nothing.")
@click.option("--recipient", "email", help="Only this recipient's digest (if it is due).")
def send(config_path: str, dry_run: bool, email: str | None) -> None:
    """Build and send every digest that is due; never twice for the same local day."""
    from aggregator.app.send import send_due_digests

    with _app(config_path) as app, closing(build_mailer(app.config.email)) as mailer:
        outcomes = send_due_digests(app, mailer, dry_run=dry_run, only=email)
    console.print_send(outcomes)
    if any(o.status in (OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN) for o in outcomes):
        raise SystemExit(1)


@main.command()
@CONFIG_OPTION
@click.option("--recipient", "email", required=True, help="The recipient's email address.")
@click.option(
    "--date",
    "day",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="The local day of the digest whose fate is unknown.",
)
def resend(config_path: str, email: str, day: Any) -> None:
    """Send again a digest shown as unknown in `pln status`, after the mail server's
    log showed it was never accepted (otherwise the teacher gets it twice)."""
    from aggregator.app.send import resend_unknown

    with _app(config_path) as app, closing(build_mailer(app.config.email)) as mailer:
        outcome = resend_unknown(app, mailer, email, day.date())
    console.print_send([outcome])
    if outcome.status is not OutcomeStatus.SENT:
        raise SystemExit(1)


@main.command()
@CONFIG_OPTION
@click.argument("link")
def unsubscribe(config_path: str, link: str) -> None:
    """Unsubscribe the teacher an unsubscribe link (or its token) names."""
    from aggregator.app.unsubscribe import unsubscribe_link

    with _app(config_path) as app:
        email, changed = unsubscribe_link(app, link)
    click.echo(
        f"{email}: {'unsubscribed' if changed else 'already unsubscribed'}; no digests "
        "until re-enabled with [email] resubscribe"
    )


@main.command()
@CONFIG_OPTION
def status(config_path: str) -> None:
    """Show each source's fetch health and each recipient's last digest."""
    from aggregator.app.health import source_health
    from aggregator.app.preferences import teacher_states
    from aggregator.app.retention import post_counts
    from aggregator.run.metronome import next_digests

    with _app(config_path) as app:
        statuses, now = app.repo.source_statuses(), app.clock()
        console.print_status(statuses, app.repo.last_digests(), now)
        console.print_teacher_states(teacher_states(app, now))
        console.print_storage(post_counts(app), app.config.storage.keep_days)
        stale_after = timedelta(days=app.config.schedule.stale_after_days)
        console.print_schedule(source_health(statuses, now, stale_after), next_digests(app), now)
        console.print_deliveries(app.repo.latest_deliveries(), now)
        if app.config.queue is not None:
            from aggregator.run.worker.status import queue_status

            console.print_queue(queue_status(app), now)


@main.command()
@CONFIG_OPTION
def run(config_path: str) -> None:
    """Run the service: fetch each source on its schedule and send each digest at its
    recipient's local time. SIGTERM or Ctrl-C stops it cleanly; SIGHUP reloads the config."""
    from aggregator.run.service import run_service

    raise SystemExit(run_service(config_path))


@main.command()
@CONFIG_OPTION
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where to listen (default: [web] listen, else 127.0.0.1:8080).",
)
def serve(config_path: str, listen: str | None) -> None:
    """Serve the admin's and teachers' web pages until SIGTERM or Ctrl-C."""
    from aggregator.run.web.serve import serve as serve_web

    serve_web(
        config_path,
        listen,
        announce=lambda url: click.echo(f"Serving on {url} (Ctrl-C or SIGTERM stops it)"),
    )


@main.group()
def admin() -> None:
    """Admin accounts of the web pages."""


@admin.command("create")
@CONFIG_OPTION
@click.argument("email")
def admin_create(config_path: str, email: str) -> None:
    """Create an admin account, or reset its password: asked for twice on the
    terminal, or read from PLN_ADMIN_PASSWORD when that is set."""
    from aggregator.app.admins import create_admin

    password = os.environ.get("PLN_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with _app(config_path) as app:
        address, created = create_admin(app, email, password)
    click.echo(
        f"{address}: {'admin created' if created else 'password changed; signed out everywhere'}"
    )


@main.command()
@CONFIG_OPTION
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Tasks run at once, one process each (default: one per core).",
)
def worker(config_path: str, concurrency: int | None) -> None:
    """Run a worker: fetch sources and send digests that `pln run` enqueues (needs
    [queue] and pip install 'pln-digest[workers]'). SIGTERM finishes the running tasks."""
    try:
        from aggregator.run.worker import run_worker
    except ImportError as exc:
        raise PLNError(
            f"{exc.name or 'celery'} is not installed: pip install 'pln-digest[workers]'"
        ) from exc
    raise SystemExit(run_worker(config_path, concurrency))

"""`pln recipients import` and `pln recipients export`: the roster as a CSV file."""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.app.config import load_config
from aggregator.app.roster import (
    MAX_ROSTER_BYTES,
    ROSTER_ENCODING,
    RosterRefused,
    export_roster,
    import_roster,
)
from aggregator.domain.errors import PLNError
from aggregator.run.cli.commands import CONFIG_OPTION
from aggregator.run.cli.output import counted


@click.group()
def recipients() -> None:
    """Import or export the recipients as a CSV roster (email, name, timezone,
    send_at, follows)."""


@recipients.command("import")
@CONFIG_OPTION
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True, help="Also change recipients already in the configuration.")
def import_command(config_path: str, file: Path, update: bool) -> None:
    """Add the recipients of a CSV roster to config.toml; a bad row is skipped
    with its line and what to fix (exit 1), the others are imported."""
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_ROSTER_BYTES + 1)  # enough to tell it is too big
    except OSError as exc:
        raise PLNError(f"{file}: cannot be read ({exc.strerror})") from exc
    try:
        done = import_roster(config_path, data, update=update)
    except RosterRefused as exc:
        raise PLNError(f"{file}: {exc}; nothing was imported") from exc
    plan = done.plan
    click.echo(
        f"{file}: {counted(len(plan.added), 'recipient')} added, {len(plan.updated)} updated, "
        f"{plan.unchanged} unchanged, {counted(len(plan.problems), 'row')} skipped"
    )
    for problem in plan.problems:
        click.echo(f"error: {file}:{problem.line}: {problem.message}", err=True)
    if plan.problems:
        raise SystemExit(1)


@recipients.command("export")
@CONFIG_OPTION
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (UTF-8, as Excel opens it) instead of standard output.",
)
def export_command(config_path: str, out: Path | None) -> None:
    """Write the recipients as a CSV roster, the way `pln recipients import` reads it."""
    text = export_roster(load_config(config_path).recipients)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding=ROSTER_ENCODING, newline="")
        click.echo(f"Wrote {out}")

"""`pln opml export` and `pln opml import`: sources to and from feed readers."""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.app.config import load_config
from aggregator.domain.clock import utc_now
from aggregator.run.cli.commands import CONFIG_OPTION


@click.group()
def opml() -> None:
    """Exchange the rss sources with feed readers as OPML 2.0 (export, import)."""


@opml.command("export")
@CONFIG_OPTION
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the OPML file here (default: standard output).",
)
def export(config_path: str, out: Path | None) -> None:
    """Write the rss sources as an OPML 2.0 file any feed reader imports."""
    from aggregator.app.opml import export_opml

    document = export_opml(load_config(config_path), utc_now())
    if out is None:
        click.echo(document.decode("utf-8"), nl=False)
    else:
        out.write_bytes(document)
        click.echo(f"Wrote {out}")


@opml.command("import")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(config_path: str, file: Path) -> None:
    """Add the feeds of an OPML file (Feedly, Inoreader, Miniflux...) as rss sources."""
    from aggregator.app.config_edit import ConfigEdit
    from aggregator.app.opml import MAX_OPML_BYTES, import_opml

    with file.open("rb") as handle:
        data = handle.read(MAX_OPML_BYTES + 1)  # a larger file is refused unread
    report = import_opml(ConfigEdit.open(config_path), data)
    for line in report.problems:
        click.echo(f"skipped: {line}", err=True)
    click.echo(
        f"Added {len(report.added)} source{'s' if len(report.added) != 1 else ''}"
        f" to {config_path}" + (f": {', '.join(report.added)}" if report.added else "")
    )

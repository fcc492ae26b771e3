"""The `pln` command line: options parsed, one library call, output printed."""

from aggregator.run.cli.commands import main
from aggregator.run.cli.opml import opml

main.add_command(opml)

__all__ = ["main"]

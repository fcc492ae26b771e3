"""The `pln` command line: options parsed, one library call, output printed."""

from aggregator.run.cli.commands import main
from aggregator.run.cli.opml import opml
from aggregator.run.cli.recipients import recipients

main.add_command(opml)
main.add_command(recipients)

__all__ = ["main"]

"""The `pln` command line: options parsed, one library call, output printed."""

from aggregator.run.cli.commands import main

__all__ = ["main"]

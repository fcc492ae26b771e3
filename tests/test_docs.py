"""Every command has help text and is documented in the README (STYLE.md §8)."""

from __future__ import annotations

from pathlib import Path

import pytest

import aggregator
from aggregator.run.cli.commands import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_has_help_and_is_in_the_readme(name: str) -> None:
    command = main.commands[name]
    assert command.help and len(command.help.strip()) > 20
    assert f"pln {name}" in README


def test_public_api_is_pinned() -> None:
    assert sorted(aggregator.__all__) == sorted(
        [
            "Config",
            "ConfigError",
            "Engagement",
            "FetchOutcome",
            "PLNError",
            "Post",
            "RecipientConfig",
            "SourceConfig",
            "SourceError",
            "build_app",
            "fetch_due_sources",
            "fetch_sources",
            "load_config",
            "run_demo",
        ]
    )
    for name in aggregator.__all__:
        assert getattr(aggregator, name) is not None

"""The `fakenet_channel` kind as the configuration sees it."""

from __future__ import annotations

import re

from aggregator.domain.source import Option
from connectors.base import Network

NETWORK = Network("fakenet", "FakeNet")


def channel(value: str) -> str:
    """`#Teachers` -> `teachers`."""
    name = value.removeprefix("#").lower()
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError("must be a channel name, like teachers")
    return name


OPTIONS = {"channel": Option(required=True, normalize=channel), "token_env": Option("env")}

"""The configuration loader with the source kinds filled in.

`aggregator.config` cannot know the kinds (they are the connectors'), so
its loader takes them as a parameter; these are the functions every entry
point calls, with the kinds of `connectors.REGISTRY`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aggregator.config import load
from aggregator.config.types import Config
from connectors import REGISTRY


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file at `path`.

    `environ` (default `os.environ`) supplies the secrets that `*_env` keys
    name. Raises ConfigError listing every problem with its line, or one
    problem when the file is missing, unreadable or not TOML.
    """
    return load.load_config(path, environ, kinds=REGISTRY)


def parse_config(
    text: str, path: str | os.PathLike[str] = "", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate configuration `text`; `path` names the file it came from.

    A relative SQLite path is resolved against `path`'s folder (the current
    folder when `path` is empty). Raises ConfigError with every problem,
    sorted by line.
    """
    return load.parse_config(text, path, environ, kinds=REGISTRY)

"""Per-request access to the configuration and the `App`.

The configuration is read again when config.toml changes on disk (an edit
takes effect at the next request, without a restart); otherwise every
request shares one `App` (one database pool, one HTTP session).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import flask
from werkzeug.wrappers import Response

from aggregator.app.config import load_config
from aggregator.app.config_edit import fingerprint_of
from aggregator.app.wiring import App
from aggregator.config.types import Config

Page = str | tuple[str, int] | Response
"""What an admin view answers: a page, a page with its status, or a redirect."""

log = logging.getLogger(__name__)

_EXTENSION = "pln_state"


@dataclass(frozen=True, slots=True)
class WebState:
    """What a view needs: the loaded configuration and the app built from it."""

    config: Config
    app: App


class StateHolder:
    """The current `WebState`, rebuilt when the configuration file changes."""

    def __init__(self, config_path: Path, build: Callable[[Config], App]) -> None:
        """`build` makes an `App` from a loaded configuration (opening the database)."""
        self._path = config_path
        self._build = build
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._state: WebState | None = None

    def current(self) -> WebState:
        """The state for the file as it is now on disk.

        Raises ConfigError when the file has problems and StorageError when
        the database cannot be opened; the next call tries again.
        """
        stamp = _stamp_of(self._path)
        with self._lock:
            if self._state is None or stamp != self._stamp:
                config = load_config(self._path)
                state = WebState(config, self._build(config))
                old, self._state, self._stamp = self._state, state, stamp
                if old is not None:
                    log.info("config.toml changed: reloaded for the web pages")
                    old.app.close()
            return self._state

    def close(self) -> None:
        """Close the current app (its database pool and connectors)."""
        with self._lock:
            if self._state is not None:
                self._state.app.close()
                self._state = None


def _stamp_of(path: Path) -> tuple[int, int, int]:
    """What changes when the file is edited or replaced (a rename gives a new inode)."""
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0, 0)  # load_config reports the missing file
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def install(app: flask.Flask, holder: StateHolder) -> None:
    """Make `holder` the source of `web_state()` for `app`."""
    app.extensions[_EXTENSION] = holder


def web_state() -> WebState:
    """The configuration and `App` of the current request (loaded once per request)."""
    state: WebState | None = flask.g.get(_EXTENSION)
    if state is None:
        holder: StateHolder = flask.current_app.extensions[_EXTENSION]
        state = holder.current()
        setattr(flask.g, _EXTENSION, state)
    return state


def config_fingerprint() -> str:
    """The fingerprint of config.toml as it is now, for a form to carry back so
    that its save is refused over a newer file ("" when the file cannot be
    read: the save then says why)."""
    try:
        return fingerprint_of(Path(web_state().config.path).read_bytes())
    except OSError:
        return ""

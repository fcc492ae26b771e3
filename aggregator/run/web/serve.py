"""Serving the web app on waitress (a production WSGI server) until told to stop.

`WebServer` binds at once (a taken port is a one-line error before
anything runs) and serves in the calling thread or in its own; `stop()` may
be called from any thread. `serve` is `pln serve`: SIGTERM or Ctrl-C stop it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import flask
from waitress import wasyncore
from waitress.server import create_server

from aggregator.app.config import load_config
from aggregator.config.types import Config
from aggregator.domain.errors import PLNError
from aggregator.domain.hosts import DEFAULT_LISTEN, split_listen
from aggregator.domain.logfmt import fields
from aggregator.run.web.app import create_app

log = logging.getLogger(__name__)

THREADS = 8
"""Requests served at once; the rest wait in waitress's queue."""
TRUSTED_PROXY = "127.0.0.1"
"""The reverse proxy whose X-Forwarded-For names the visitor: one on this machine."""


class WebServer:
    """A waitress server for one Flask app on one HOST:PORT."""

    def __init__(self, app: flask.Flask, host: str, port: int) -> None:
        """Bind to `host`:`port` (port 0 picks a free one).

        Raises PLNError when the port cannot be had.
        """
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._map: dict[int, Any] = {}
        try:
            self._server = create_server(
                app,
                map=self._map,
                host=host,
                port=port,
                threads=THREADS,
                ident="PLN Digest",
                # A web server on this machine (nginx, Caddy) in front: the
                # visitor's address is its X-Forwarded-For, so the limit on
                # failed sign-ins counts visitors, not the proxy. Nobody else
                # can set it: the header is dropped from any other peer.
                trusted_proxy=TRUSTED_PROXY,
                trusted_proxy_count=1,
                trusted_proxy_headers={"x-forwarded-for"},
            )
        except OSError as exc:
            wasyncore.close_all(self._map)  # what waitress opened before the bind failed
            raise PLNError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
        self.host, self.port = host, int(self._server.effective_port)
        self._stop_lock = threading.Lock()
        self._stopped = False

    @property
    def url(self) -> str:
        """The base URL it answers at, like http://127.0.0.1:8080."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until `stop()`; requests being answered get a few seconds to finish."""
        log.info("serving the web pages", extra=fields(event="web_start", url=self.url))
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown()
            wasyncore.close_all(self._map)
            log.info("web pages stopped", extra=fields(event="web_stop"))

    def start(self) -> threading.Thread:
        """Serve in a new thread (`pln run`, tests); returns it."""
        thread = threading.Thread(target=self.run, name="pln-web", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Make `run()` return: the sockets are closed in the serving thread
        itself. Calling it again does nothing."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._map))


def serve_beside(
    config_path: Path | str, config: Config
) -> tuple[WebServer, threading.Thread] | None:
    """`pln run`'s web pages, served in a thread when `[web] listen` is set
    (None when not). Raises PLNError when the port cannot be had."""
    if not config.web.listen:
        return None
    try:
        host, port = split_listen(config.web.listen)
    except ValueError as exc:  # pln check refuses it first
        raise PLNError(f"[web] listen: {exc}") from exc
    server = WebServer(create_app(config_path), host, port)
    return server, server.start()


def serve(
    config_path: Path | str,
    listen: str | None = None,
    announce: Callable[[str], None] = lambda url: None,
) -> None:
    """`pln serve`: the web app on `listen` (default `[web] listen`, then
    127.0.0.1:8080) until SIGTERM or SIGINT. Must run in the main thread.

    `announce` is told the URL once the port is bound.

    Raises ConfigError or PLNError (no secret, a port that cannot be had).
    """
    config = load_config(config_path)
    try:
        host, port = split_listen(listen or config.web.listen or DEFAULT_LISTEN)
    except ValueError as exc:
        raise PLNError(f"--listen: {exc}") from exc
    server = WebServer(create_app(config_path), host, port)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name, extra=fields(event="stop"))
        # Not in the handler: the interrupted loop may hold the trigger's lock.
        threading.Thread(target=server.stop).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    announce(server.url)
    server.run()

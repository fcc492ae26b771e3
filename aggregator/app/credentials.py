"""Sources that share a credential fail together, without a retry storm.

An expired token is one problem, not one per source: once a network refuses
a credential, every other source using it in the same run is marked with the
same message without calling the network again. Fetches that share a credential
also take turns, so a rate limit or a login limit (Bluesky allows 10 logins a
day) is met by one request, not by a burst.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from aggregator.config.types import Config
from aggregator.domain.errors import AuthError
from aggregator.domain.source import SourceConfig
from connectors import REGISTRY


def credentials_of(source: SourceConfig, config: Config) -> tuple[str, ...]:
    """The environment variables holding the secrets `source` is fetched with.

    Its own `*_env` options, and the token of its network's table (see
    `Network.section`); sorted, so locks are always taken in the same order.
    """
    names = {value for name, value in source.options if name.endswith("_env") and value}
    spec = REGISTRY.get(source.kind)
    secret = config.section_token(spec.section) if spec and spec.section else None
    if secret is not None:
        names.add(secret.env_name)
    return tuple(sorted(names))


class CredentialGate:
    """Per run: one fetch at a time per credential, and refused credentials remembered."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._refused: dict[str, str] = {}

    @contextmanager
    def use(self, source: SourceConfig) -> Iterator[None]:
        """Hold `source`'s credentials while it is fetched.

        Raises AuthError at once, with the first refusal's message, when one
        of them was refused earlier in the run; records a refusal raised
        inside the block.
        """
        names = credentials_of(source, self._config)
        with ExitStack() as held:
            for name in names:
                held.enter_context(self._lock(name))
            refused = next((self._refused[n] for n in names if n in self._refused), None)
            if refused is not None:
                raise AuthError(source.key, refused)
            try:
                yield
            except AuthError as exc:
                for name in names:
                    self._refused[name] = exc.message
                raise

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

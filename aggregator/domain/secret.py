"""Secrets from the environment, never shown: their repr is `<redacted>`."""

from __future__ import annotations


class Secret:
    """A secret read from the environment; its repr never shows the value."""

    __slots__ = ("_value", "env_name")

    def __init__(self, env_name: str, value: str) -> None:
        self.env_name = env_name
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call only where it is sent to its server."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.env_name}=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.env_name, self._value) == (
            other.env_name,
            other._value,
        )

    def __hash__(self) -> int:
        return hash(self.env_name)

"""Option checks shared by several networks' `[[sources]]` options."""

from __future__ import annotations


def numeric_id(value: str) -> str:
    """A numeric id (an X list, a Facebook group), written in quotes in the file."""
    if not value.isdigit():
        raise ValueError('must be a numeric id in quotes, like "123456789"')
    return value

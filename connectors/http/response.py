"""A fully read HTTP response, as every connector sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response. `headers` has lower-case names; `url` is the
    final URL after redirects; `permanent_redirect_to` is that URL when every
    hop was permanent (301/308), else None."""

    status: int
    url: str
    headers: Mapping[str, str]
    body: bytes
    permanent_redirect_to: str | None = None

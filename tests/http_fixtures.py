"""Replaying recorded HTTP exchanges (`*.interaction.json`) with `responses`.

The format is the one of `tests/data/http/README.md`: a request (method, url)
and a response (status, headers, and `json` or `text`), tokens scrubbed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import responses

HTTP_DATA = Path(__file__).parent / "data" / "http"

# Bodies are stored decoded; these headers described the original encoding.
_DROPPED = {"content-encoding", "content-length", "transfer-encoding"}


def load_interaction(relative: str) -> dict[str, Any]:
    """One recorded exchange, from a path relative to tests/data/http/."""
    data: dict[str, Any] = json.loads((HTTP_DATA / relative).read_text(encoding="utf-8"))
    return data


def add_interaction(
    mock: responses.RequestsMock | None,
    relative: str,
    *,
    url: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """Register a recorded exchange on `mock` (the global `responses` if None).

    `url`, `status`, `headers` and `body` override the recording (e.g. to
    point it at another instance, or to make a variant); query strings are
    matched loosely, so the connector's own parameters are asserted in the
    test through `mock.calls`. Returns the recording.
    """
    recorded = load_interaction(relative)
    request, response = recorded["request"], recorded["response"]
    kept = {k: v for k, v in response.get("headers", {}).items() if k.lower() not in _DROPPED}
    kept.update(headers or {})
    target = (url or request["url"]).split("?")[0]
    content_type = next((kept.pop(k) for k in list(kept) if k.lower() == "content-type"), None)
    kwargs: dict[str, Any] = {"status": status or response["status"], "headers": kept}
    if content_type:
        kwargs["content_type"] = content_type
    payload = body if body is not None else response.get("json", response.get("text", ""))
    if isinstance(payload, (dict, list)):
        kwargs["json"] = payload
    else:
        kwargs["body"] = payload
    (mock or responses).add(request["method"], target, **kwargs)
    return recorded

"""Rendering a `Digest` as an HTML email body and as plain text (Jinja2).

Templates live in the top-level `templates/` folder, installed as the
package `digests.templates`. HTML is autoescaped; the only markup trusted
as-is is `post.html`, which ingest has already sanitised (STYLE.md §2).
Links go through `safe_href`, since escaping does not stop a
`javascript:` URL.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jinja2

from digests.digest import WEEKDAYS, Digest, format_day

_TEMPLATES_PACKAGE = "digests.templates"
# A window this long reads as "since yesterday"; shorter ones name the last digest.
_DAY_LIKE_WINDOW = timedelta(hours=20)
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
)  # fmt: skip


def safe_href(url: str | None) -> str:
    """The URL if it is an absolute http(s) link, else "" (the template drops the link)."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def format_clock(local_time: datetime, local_day: date) -> str:
    """A reader's clock time, "7:42 AM"; "Sun 9:15 PM" when not on `local_day`.

    Written out by hand so the output does not depend on the process locale.
    """
    hour = local_time.hour % 12 or 12
    clock = f"{hour}:{local_time.minute:02d} {'AM' if local_time.hour < 12 else 'PM'}"
    if local_time.date() == local_day:
        return clock
    return f"{WEEKDAYS[local_time.weekday()][:3]} {clock}"


def paragraphs(text: str) -> list[str]:
    """Plain text split at blank lines, each paragraph stripped; empty ones dropped."""
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def _minutes_phrase(minutes: int) -> str:
    """ "five minutes", "one minute", "12 minutes": how the empty-day note says it."""
    number = _NUMBER_WORDS[minutes] if 0 <= minutes < len(_NUMBER_WORDS) else str(minutes)
    return f"{number} minute{'' if minutes == 1 else 's'}"


def _context(digest: Digest) -> dict[str, Any]:
    """What both templates are given: the digest plus phrases worked out once."""
    window = digest.window_end - digest.window_start
    recipient = digest.recipient
    return {
        "digest": digest,
        "recipient": recipient,
        "long_date": format_day(digest.local_day, is_long=True),
        "greeting_name": recipient.name.strip() or "there",
        "read_minutes": max(1, math.ceil(digest.reading_seconds / 60)),
        "post_count": len(digest.entries) + len(digest.also),
        "quiet_since": (
            "since yesterday" if window >= _DAY_LIKE_WINDOW else "since your last digest"
        ),
        "budget_phrase": _minutes_phrase(recipient.reading_minutes),
    }


def _is_html(template_name: str | None) -> bool:
    """Autoescape exactly the HTML templates (`*.html.j2`)."""
    return bool(template_name and template_name.endswith(".html.j2"))


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment, built once: templates from the `digests.templates` package."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(_TEMPLATES_PACKAGE, "."),
        autoescape=_is_html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["href"] = safe_href
    env.filters["clock"] = format_clock
    env.filters["paragraphs"] = paragraphs
    return env


def render_html(digest: Digest) -> str:
    """The digest as a self-contained HTML email body (no scripts, no external CSS)."""
    return _environment().get_template("digest.html.j2").render(_context(digest))


def render_text(digest: Digest) -> str:
    """The digest as plain text that reads well on its own, each URL on its own line."""
    return _environment().get_template("digest.txt.j2").render(_context(digest))

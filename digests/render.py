"""Rendering a `Digest` as an HTML email body and as plain text (Jinja2).

Templates live in the top-level `templates/` folder, installed as the
package `digests.templates`. HTML is autoescaped; the only markup trusted
as-is is `post.html`, which ingest has already sanitised.
Links go through `safe_href`, since escaping does not stop a
`javascript:` URL, and are free of click tracking (`digests.links`).
Networks are named as the caller's `labels` say (`Post.network` -> "X",
"Web"): the connectors know their networks, and this package does not
import them.

The HTML is written with classes and one <style> block; css-inline (a
maintained Rust inliner) moves every rule into style="" attributes, since
Gmail and Outlook drop or ignore <style>; only @media rules (phone width,
dark mode) stay in <style>, as progressive enhancement. The result stays
under MAX_HTML_BYTES whatever the day holds: `choose.py` budgets an
estimate, and `render_html` drops the last headlines, then entries, if the
real size is still over.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import css_inline
import jinja2

from digests.cluster import Sharer
from digests.compose import Digest, DigestEntry
from digests.links import clean_html_links, safe_href
from digests.wording import (
    byline,
    engagement_phrase,
    format_clock,
    format_day,
    minutes_phrase,
    network_name,
    quiet_since,
    reading_phrase,
    shared_by,
)

__all__ = [
    "MAX_HTML_BYTES",
    "DigestLinks",
    "engagement_phrase",
    "format_clock",
    "network_name",
    "paragraphs",
    "render_html",
    "render_text",
    "safe_href",
    "shared_by",
]

_TEMPLATES_PACKAGE = "digests.templates"
# Gmail clips a message over 102 KB behind a "View entire message" link.
MAX_HTML_BYTES = 100_000


@dataclass(frozen=True, slots=True)
class DigestLinks:
    """The links of one digest that lead to the service ("" for none): the
    digest in a browser, the page to manage it, unsubscribe, and per story
    (source key, external id) its "more like this" and "less like this".

    Made and signed by the caller; the templates only show them. These are
    the only links to our server: the stories' own links go straight to
    their pages.
    """

    unsubscribe: str = ""
    archive: str = ""
    manage: str = ""
    feedback: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def feedback_of(self, entry: DigestEntry) -> tuple[str, str] | None:
        """The ("more", "less") links of `entry`'s story, if it has them."""
        found = self.feedback.get((entry.post.source_key, entry.post.external_id))
        if found is None or not all(safe_href(url) for url in found):
            return None
        return found


def paragraphs(text: str) -> list[str]:
    """Plain text split at blank lines, each paragraph stripped; empty ones dropped."""
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def _preheader(digest: Digest, post_count: int, reading: str) -> str:
    """The line mail clients show after the subject."""
    if digest.is_empty:
        return "Your network was quiet: nothing new to read today."
    heads = "; ".join(entry.headline for entry in digest.top)
    return f"{post_count} stories, {reading}: {heads}"


def _context(
    digest: Digest, labels: Mapping[str, str], left_out: int = 0, links: DigestLinks | None = None
) -> dict[str, Any]:
    """What both templates are given: the digest plus phrases worked out once."""
    recipient = digest.recipient
    links = links or DigestLinks()
    post_count = len(digest.entries) + len(digest.also)
    reading = reading_phrase(digest.reading_seconds)
    return {
        "preheader": _preheader(digest, post_count, reading),
        "left_out": left_out,
        "unsubscribe_url": safe_href(links.unsubscribe),
        "archive_url": safe_href(links.archive),
        "manage_url": safe_href(links.manage),
        "links": links,
        "digest": digest,
        "recipient": recipient,
        "long_date": format_day(digest.local_day, is_long=True),
        "greeting_name": recipient.name.strip() or "there",
        "reading": reading,
        "post_count": post_count,
        "quiet_since": quiet_since(digest.window_end - digest.window_start),
        "budget_phrase": minutes_phrase(recipient.reading_minutes),
        "network_labels": labels,
    }


@jinja2.pass_context
def _network_filter(context: jinja2.runtime.Context, network: str) -> str:
    """`{{ post.network|network }}`, with the labels `render_*` was given."""
    return network_name(network, context["network_labels"])


@jinja2.pass_context
def _shared_by_filter(context: jinja2.runtime.Context, sharers: Sequence[Sharer]) -> str:
    """`{{ entry.sharers|shared_by }}`, with the labels `render_*` was given."""
    return shared_by(sharers, context["network_labels"])


@jinja2.pass_context
def _byline_filter(context: jinja2.runtime.Context, entry: DigestEntry) -> str:
    """`{{ entry|byline }}`: source, network, author, local time."""
    digest: Digest = context["digest"]
    network = network_name(entry.post.network, context["network_labels"])
    return byline(
        entry.source_title, network, entry.post.author, entry.local_time, digest.local_day
    )


def _is_html(template_name: str | None) -> bool:
    """Autoescape exactly the HTML templates (`*.html.j2`)."""
    return bool(template_name and template_name.endswith(".html.j2"))


def _wordwrap(
    text: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str = "\n",
    break_on_hyphens: bool = True,
) -> str:
    """Jinja2's `wordwrap` filter, the same text, without wrapping the lines
    that already fit: most lines of a digest do, and `textwrap` was most of
    the time of rendering the text version."""
    wrapped = (
        [line]
        if len(line) <= width and line == line.strip()
        else textwrap.wrap(
            line,
            width=width,
            expand_tabs=False,
            replace_whitespace=False,
            break_long_words=break_long_words,
            break_on_hyphens=break_on_hyphens,
        )
        for line in text.splitlines()
    )
    return wrapstring.join(wrapstring.join(lines) for lines in wrapped)


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
    env.filters["network"] = _network_filter
    env.filters["shared_by"] = _shared_by_filter
    env.filters["byline"] = _byline_filter
    env.filters["engagement"] = engagement_phrase
    env.filters["clean_links"] = clean_html_links
    env.filters["wordwrap"] = _wordwrap
    return env


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    """The CSS inliner: never fetches anything, keeps @media rules in <style>."""
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def _render_inlined(
    digest: Digest, labels: Mapping[str, str], left_out: int, links: DigestLinks
) -> str:
    context = _context(digest, labels, left_out, links)
    html = _environment().get_template("digest.html.j2").render(context)
    return _inliner().inline(html)


def _shorter(digest: Digest) -> Digest:
    """The digest with about a fifth fewer headlines, or when none are left, entries."""
    entries, also = digest.entries, digest.also
    if also:
        also = also[: len(also) * 4 // 5]
    else:
        entries = entries[: len(entries) * 4 // 5]
    return digest.showing(entries, also)


def render_html(
    digest: Digest,
    unsubscribe_url: str = "",
    *,
    labels: Mapping[str, str],
    links: DigestLinks | None = None,
) -> str:
    """The digest as a self-contained HTML email body and web page, with an
    unsubscribe link in its footer when `unsubscribe_url` (http(s)) is given;
    `labels` name the networks (`Post.network` -> "X"). `links` (which
    then carry the unsubscribe link) add "view in browser", "manage your
    digest" and each story's "more / less like this".

    Table layout 600 px wide, CSS inlined, no scripts, no external CSS or
    fonts, no tracking; at most MAX_HTML_BYTES of UTF-8 (the last headlines,
    then entries, are left out if needed, and the page says how many).
    """
    shown = digest
    links = links or DigestLinks(unsubscribe=unsubscribe_url)
    html = _render_inlined(shown, labels, 0, links)
    while len(html.encode()) > MAX_HTML_BYTES and (shown.entries or shown.also):
        shown = _shorter(shown)
        total = len(digest.entries) + len(digest.also)
        left_out = total - len(shown.entries) - len(shown.also)
        html = _render_inlined(shown, labels, left_out, links)
    return html


def render_text(
    digest: Digest,
    unsubscribe_url: str = "",
    *,
    labels: Mapping[str, str],
    links: DigestLinks | None = None,
) -> str:
    """The digest as plain text that reads well on its own, each URL on its own
    line; the unsubscribe link last when given; `labels` name the networks.
    `links` (which then carry the unsubscribe link) add "view in a browser"
    and "manage your digest" to the footer."""
    links = links or DigestLinks(unsubscribe=unsubscribe_url)
    context = _context(digest, labels, links=links)
    return _environment().get_template("digest.txt.j2").render(context)

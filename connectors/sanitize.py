"""The one HTML sanitiser of PLN Digest: an nh3 (ammonia) allow-list.

Every piece of HTML from any network goes through `sanitize_html` once, at
ingest, before it is stored. Titles and author names are plain text
everywhere: `plain_text` strips whatever markup they carry, and templates
escape them.
"""

from __future__ import annotations

import functools
import html as _html
import re
from typing import Literal
from urllib.parse import urlsplit

import nh3

from aggregator.domain.images import is_pixel_size, is_tracker_url

__all__ = ["html_to_text", "one_line", "plain_text", "sanitize_html"]

_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)

# No style, class, id or on* attribute anywhere: only these survive. An
# image's `style` and `hidden` are read to drop hidden images (tracking
# pixels), then removed with the rest (`_keep_image`).
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height", "style", "hidden"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}

# Tags whose *content* goes too, not just the tag: code, or text no reader sees.
_DROP_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "title", "textarea", "select", "svg", "math"}
)

_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_WEB_SCHEMES = ("http", "https")

# nh3 serialises every attribute as name="value" with `"`, `<`, `>` and `&`
# escaped, so a tag of its output can be matched safely with a regex.
_IMG_TAG = re.compile(r'<img(?:\s+[a-z-]+="[^"]*")*\s*/?>')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|li|h[1-6]|blockquote|pre|tr|td|th|caption|figcaption|dd|dt|hr|"
    r"ul|ol|dl|table|figure|img)\b[^>]*>"
)
_ANY_TAG = re.compile(r"<[^>]*>")


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Reduce untrusted HTML to a safe allow-list of formatting tags.

    Keeps paragraphs, links, emphasis, lists, quotes, code, headings, images,
    figures and simple tables. Removes scripts, styles, frames, objects,
    forms, comments, event handlers and `style` attributes. Link and image
    URLs must be http(s) (links may also be mailto:); relative ones are
    resolved against `base_url` when it is an http(s) URL, dropped
    otherwise. Links get `rel="noopener noreferrer"`. Images that are not
    http(s), known trackers, 0 or 1 pixel wide or high, or hidden (by
    `hidden`, or a style with display:none, visibility:hidden or opacity 0)
    are removed: once its style is gone, a hidden image would show. The
    tracker and pixel rules are `aggregator.domain.images`', shared with
    the digest's pictures.
    """
    if not html:
        return ""
    cleaned = _cleaner(_relative_policy(base_url)).clean(html)
    if "<img" in cleaned:
        cleaned = _IMG_TAG.sub(_keep_image, cleaned)
    return cleaned


@functools.lru_cache(maxsize=256)
def _cleaner(relative: Literal["deny"] | tuple[Literal["rewrite_with_base"], str]) -> nh3.Cleaner:
    """The allow-list as a reusable nh3 cleaner, one per base URL: building
    one costs as much as cleaning a post, and a feed's posts share a base."""
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in _ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        url_relative=relative,
        link_rel="noopener noreferrer",
    )


def _relative_policy(
    base_url: str | None,
) -> Literal["deny"] | tuple[Literal["rewrite_with_base"], str]:
    """Resolve relative URLs against a usable web base, else drop them."""
    if base_url and _is_web_url(base_url):
        return ("rewrite_with_base", base_url)
    return "deny"


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in _WEB_SCHEMES and bool(parts.netloc)


def _keep_image(match: re.Match[str]) -> str:
    """The <img> tag without its style, or "" for non-web, tracker and hidden images."""
    attrs = dict(_ATTR.findall(match.group(0)))
    src = _html.unescape(attrs.get("src", ""))
    if not _is_web_url(src) or is_tracker_url(src) or "hidden" in attrs:
        return ""
    style = _style(_html.unescape(attrs.pop("style", "")))
    if _is_hidden(style):
        return ""
    if any(is_pixel_size(attrs.get(name, style.get(name))) for name in ("width", "height")):
        return ""
    return "<img" + "".join(f' {name}="{value}"' for name, value in attrs.items()) + ">"


_TRANSPARENT = re.compile(r"^(0+(\.0*)?|\.0+)%?$")


def _style(declarations: str) -> dict[str, str]:
    """A style attribute's declarations by lower-case property (the last one wins)."""
    found: dict[str, str] = {}
    for declaration in declarations.split(";"):
        name, sep, value = declaration.partition(":")
        if sep:
            found[name.strip().lower()] = value.replace("!important", "").strip().lower()
    return found


def _is_hidden(style: dict[str, str]) -> bool:
    return (
        style.get("display") == "none"
        or style.get("visibility") in ("hidden", "collapse")
        or bool(_TRANSPARENT.match(style.get("opacity", "1")))
    )


# Reusable cleaners for text extraction: tags kept bare, or no tags at all.
_TAGS_ONLY = nh3.Cleaner(tags=set(_TAGS), attributes={}, clean_content_tags=set(_DROP_CONTENT))
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_CONTENT))


def html_to_text(html: str, *, is_sanitized: bool = False) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded,
    runs of whitespace collapsed to one space (block ends count as spaces).

    Used for reading time and the text digest; scripts and styles contribute
    no text. Pass `is_sanitized=True` for output of `sanitize_html` to skip
    a second nh3 pass (about half the cost).
    """
    if not html:
        return ""
    # nh3 turns any input into well-formed markup without script/style
    # content, so the regexes below only ever see tags.
    cleaned = html if is_sanitized else _TAGS_ONLY.clean(html)
    spaced = _BLOCK_TAG.sub(" ", cleaned)
    return _collapse(_html.unescape(_ANY_TAG.sub("", spaced)))


def plain_text(s: str) -> str:
    """A title or author name as plain text: markup stripped, entities
    decoded, whitespace collapsed (`"x <b>y</b> &amp; z"` -> `"x y & z"`)."""
    if not s:
        return ""
    if "<" not in s and "&" not in s:
        return _collapse(s)
    return _collapse(_html.unescape(_TEXT_ONLY.clean(s)))


def one_line(s: str) -> str:
    """Plain text as written, on one line: runs of white space collapsed.

    For what a network or a format defines as plain text (a display name, a
    subject, a text title): "<canvas>" there is words, not markup, and is
    escaped wherever it is shown.
    """
    return _collapse(s)


def _collapse(s: str) -> str:
    # str.split() splits on the same white space as re's \s, several times faster.
    return " ".join(s.split())

"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) to `Post`s.

`parse_feed` is a pure, module-level function of bytes in and posts out, so
it can run in a process pool: parsing is where a feed fetch spends its time
(docs/api-notes.md §5 "Speed"). feedparser runs with its own sanitiser and relative-
URI rewriting off; `connectors.sanitize` does both once, in Rust, for about
a third of feedparser's cost on a large feed.
"""

from __future__ import annotations

import calendar
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import feedparser

from aggregator.domain.errors import ParseError
from aggregator.domain.images import is_icon_size
from aggregator.domain.post import Post
from connectors.rss.item import RawItem, to_post
from connectors.rss.jsonfeed import parse_json_feed
from connectors.rss.page import feed_links, is_html_page, main_feeds

__all__ = ["ParsedFeed", "parse_feed", "read_feed"]

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"
# A DOCTYPE with an internal subset; quoted values may contain "]" or ">".
_DOCTYPE_SUBSET = re.compile(
    rb"""<!DOCTYPE\s[^\[>]*\[(?:[^\]"']|"[^"]*"|'[^']*')*\]\s*>""", re.IGNORECASE
)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
# Valid multi-byte UTF-8 characters needed per invalid byte sequence before
# a document is read as UTF-8 with a few bad bytes (see `_repaired_utf8`).
_UTF8_EVIDENCE = 20
# The end tag of a feed's root element, at the end of a complete document.
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)\s*>\s*\Z", re.IGNORECASE)


class ParsedFeed(NamedTuple):
    """A feed's posts, and what went wrong while reading them (None: nothing)."""

    posts: tuple[Post, ...]
    problem: str | None = None


def parse_feed(
    source_key: str, body: bytes, content_type: str, url: str, now: datetime
) -> tuple[Post, ...]:
    """The posts of a fetched feed document (see `read_feed`)."""
    return read_feed(source_key, body, content_type, url, now).posts


def read_feed(
    source_key: str,
    body: bytes,
    content_type: str,
    url: str,
    now: datetime,
    undated_at: datetime | None = None,
) -> ParsedFeed:
    """Parse a fetched feed document into posts.

    `content_type` is the response's Content-Type (it decides the charset
    under RFC 3023), `url` the document's base URL (of relative links),
    `now` the fetch time (aware UTC: cap on future dates), `undated_at` the
    date of items without one (default `now`: first seen). A feed that is
    not well-formed XML is read leniently: every item is kept but a partial
    last one (a cut-off document), and that loss is the `problem`. Items
    with no title, text or link are left out.

    Raises ParseError for an empty document, an HTML page (naming its feed
    when the page links one), a document declaring XML entities that cannot
    be stripped safely, an encoding name that cannot be looked up, invalid
    JSON, or anything that is not a feed.
    """
    stripped = body.lstrip(_BOM_AND_SPACE)
    if not stripped:
        raise ParseError(source_key, "empty document")
    body, content_type = _repaired_utf8(body, content_type)
    stripped = body.lstrip(_BOM_AND_SPACE)
    if stripped.startswith(b"{"):
        items = parse_json_feed(source_key, stripped)
        return ParsedFeed(_posts(items, source_key, url, now, undated_at))
    document = _without_entities(source_key, body)
    try:
        parsed = feedparser.parse(
            document,
            # No content-location: feedparser would then resolve xml:base on every
            # element (a sixth of its time); `to_post` resolves the few URLs we keep.
            response_headers={"content-type": content_type or "application/xml"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except (ValueError, LookupError) as exc:
        # feedparser looks the declared encoding up with `codecs`, which
        # raises ValueError for a name holding a NUL byte (found by fuzzing).
        raise ParseError(source_key, "not a feed (unreadable character encoding)") from exc
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        # feedparser's lenient parser trips over some broken markup itself (an
        # end tag it never saw open, as in `</width>`; found by fuzzing).
        raise ParseError(
            source_key, f"not a feed the parser can read (broken markup: {type(exc).__name__})"
        ) from exc
    if not parsed.entries and not parsed.get("version"):
        raise ParseError(source_key, _not_a_feed(body, url))
    items, problem = _raw_items(parsed, _is_cut_off(document))
    return ParsedFeed(_posts(items, source_key, url, now, undated_at), problem)


def _posts(
    items: Iterable[RawItem], source_key: str, url: str, now: datetime, undated_at: datetime | None
) -> tuple[Post, ...]:
    posts = (to_post(item, source_key, url, now, undated_at) for item in items)
    return tuple(post for post in posts if post is not None)


def _repaired_utf8(body: bytes, content_type: str) -> tuple[bytes, str]:
    """A UTF-8 document with a few invalid bytes, made valid UTF-8.

    feedparser decodes a document in which one byte is not UTF-8 with
    another encoding altogether (windows-1252), so every non-ASCII letter of
    the feed becomes mojibake. When the non-ASCII text is overwhelmingly
    valid UTF-8 (a document in a single-byte charset almost never is), only
    the bad bytes become U+FFFD and the charset is declared UTF-8.
    Returns (body, content_type), unchanged when there is nothing to repair.
    """
    if _looks_wide(body):
        return body, content_type
    try:
        body.decode("utf-8")
        return body, content_type
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if non_ascii - bad < _UTF8_EVIDENCE * bad:
        return body, content_type
    return text.encode("utf-8"), "application/xml; charset=utf-8"


def _without_entities(source_key: str, body: bytes) -> bytes:
    """Remove a DOCTYPE's internal subset, where entities are declared.

    feedparser keeps "safe" entities and its loose parser expands them, so
    a 16 kB document can become a 20-million-character title (docs/api-notes.md §5
    "quadratic blowup"). Without declarations, references stay literal.
    """
    if _ENTITY_DECL.search(body) is None and not _looks_wide(body):
        return body
    body = _DOCTYPE_SUBSET.sub(b"", body, count=1)
    if _ENTITY_DECL.search(body) or (_looks_wide(body) and "<!ENTITY" in _wide_text(body)):
        raise ParseError(
            source_key,
            "refused: the document declares XML entities "
            "(<!ENTITY>) outside a DOCTYPE we can strip",
        )
    return body


def _looks_wide(body: bytes) -> bool:
    """UTF-16/32 documents hide ASCII patterns behind NUL bytes."""
    return body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]


def _wide_text(body: bytes) -> str:
    for encoding in ("utf-32", "utf-16"):
        try:
            return body.decode(encoding).upper()
        except UnicodeDecodeError:
            continue
    return ""


def _not_a_feed(body: bytes, url: str) -> str:
    """Why a document with no version and no entries is not a feed."""
    if not is_html_page(body):
        return "not a feed (no RSS, Atom or JSON Feed found)"
    links = feed_links(body, url)
    feeds = main_feeds(links) or links
    if feeds:
        return (
            f"not a feed (an HTML page); its feed is at {feeds[0].url}: use that as the source url"
        )
    return "not a feed (HTML page)"


def _raw_items(parsed: Any, cut_off: bool) -> tuple[list[RawItem], str | None]:
    """RawItems from a feedparser result, and the problem of a broken document.

    feedparser reads a document that is not well-formed XML leniently and
    keeps every item it can. Only a cut-off document's last item can be
    partial: without an id or link it would be stored under a hash of its
    half title and never replaced, so it is dropped, and the loss reported.
    A complete document with an error elsewhere (an undefined entity) keeps
    every item.
    """
    error = parsed.get("bozo_exception")
    feed = parsed.feed
    language = feed.get("language") or None
    feed_author = _author(feed)
    items = [_raw_item(entry, language, feed_author) for entry in parsed.entries]
    if not isinstance(error, xml.sax.SAXException) or not items or not cut_off:
        return items, None
    if items[-1].id or items[-1].link:
        return items, None
    reason = str(error.getMessage() if isinstance(error, xml.sax.SAXParseException) else error)
    kept = len(items) - 1
    return items[:-1], (
        f"the feed is cut off or is broken XML ({reason[:80]}); "
        f"kept {kept} complete item(s) and left out a partial one"
    )


def _is_cut_off(document: bytes) -> bool:
    """Whether the document stops before its root element is closed."""
    return _ROOT_END.search(document[-256:]) is None and not _looks_wide(document)


def _author(element: Mapping[str, Any]) -> str:
    """An entry's or channel's author name: the parsed name of an RSS
    `address (Name)` or Atom `<name>`, else the text as written."""
    detail = element.get("author_detail") or {}
    return str(detail.get("name") or ("" if detail.get("email") else element.get("author", "")))


def _raw_item(entry: Any, language: str | None, feed_author: str) -> RawItem:
    # Plain dict access: FeedParserDict.get maps missing keys onto others
    # (updated -> published) with a DeprecationWarning, and is slower.
    entry = dict(entry)
    content, is_text, base = _content(entry)
    author = _author(entry) or feed_author
    enclosures = tuple(
        (str(link.get("href", "")), str(link.get("type", "")))
        for link in entry.get("links", ())
        if link.get("rel") == "enclosure"
    )
    return RawItem(
        id=str(entry.get("id", "")),
        title=str(entry.get("title", "")),
        title_is_text=(entry.get("title_detail") or {}).get("type") == "text/plain",
        link=str(entry.get("link", "")),
        content=content,
        content_is_text=is_text,
        base=base,
        author=str(author),
        published_at=_utc(entry.get("published_parsed")),
        updated_at=_utc(entry.get("updated_parsed")),
        enclosures=enclosures,
        images=_images(entry),
        tags=tuple(str(t.get("term") or "") for t in entry.get("tags", ())),
        language=language,
        fingerprint=(
            str(entry.get("id", "")),
            str(entry.get("title", "")),
            str(entry.get("link", "")),
            content,
            str(entry.get("summary", "")),
            str(entry.get("published", "")),
            str(entry.get("updated", "")),
            *(href for href, _ in enclosures),
        ),
    )


def _content(entry: Mapping[str, Any]) -> tuple[str, bool, str]:
    """(text, is_plain_text, base) of the fullest body: content, else summary."""
    contents = entry.get("content") or ()
    detail = next((c for c in contents if "html" in str(c.get("type", ""))), None)
    if detail is None:
        detail = contents[0] if contents else entry.get("summary_detail")
    if not detail:
        return "", False, ""
    is_text = str(detail.get("type", "")) == "text/plain"
    return str(detail.get("value") or ""), is_text, str(detail.get("base") or "")


def _images(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Image URLs: Media RSS thumbnails (YouTube), image media:content, itunes:image.

    One the feed says is smaller than a picture (an avatar, an icon) is left out.
    """
    found = [
        str(t.get("url", ""))
        for t in entry.get("media_thumbnail", ())
        if not is_icon_size(t.get("width"), t.get("height"))
    ]
    found += [
        str(m.get("url", ""))
        for m in entry.get("media_content", ())
        if (m.get("medium") == "image" or str(m.get("type", "")).startswith("image/"))
        and not is_icon_size(m.get("width"), m.get("height"))
    ]
    image = entry.get("image")
    if isinstance(image, Mapping) and image.get("href"):
        found.append(str(image["href"]))
    return tuple(found)


def _utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime (None if unusable)."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None

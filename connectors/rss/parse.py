"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) to `Post`s.

`parse_feed` is a pure, module-level function of bytes in and posts out, so
it can run in a process pool: parsing is where a feed fetch spends its time
(API-NOTES §5 "Speed"). feedparser runs with its own sanitiser and relative-
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
from typing import Any

import feedparser

from aggregator.domain.errors import ParseError
from aggregator.domain.post import Post
from connectors.rss.item import RawItem, to_post, web_url
from connectors.rss.jsonfeed import parse_json_feed

__all__ = ["parse_feed"]

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"
# A DOCTYPE with an internal subset; quoted values may contain "]" or ">".
_DOCTYPE_SUBSET = re.compile(
    rb"""<!DOCTYPE\s[^\[>]*\[(?:[^\]"']|"[^"]*"|'[^']*')*\]\s*>""", re.IGNORECASE
)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(rb"<html[\s>]|<!doctype\s+html", re.IGNORECASE)
_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_TAG_ATTR = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
# Valid multi-byte UTF-8 characters needed per invalid byte sequence before
# a document is read as UTF-8 with a few bad bytes (see `_repaired_utf8`).
_UTF8_EVIDENCE = 20
_FEED_TYPES = (b"application/rss+xml", b"application/atom+xml", b"application/feed+json")


def parse_feed(
    source_key: str, body: bytes, content_type: str, url: str, now: datetime
) -> tuple[Post, ...]:
    """Parse a fetched feed document into posts.

    `content_type` is the response's Content-Type (it decides the charset
    under RFC 3023), `url` the final document URL (base of relative links),
    `now` the fetch time (aware UTC: date of undated items, cap on future
    dates). A bozo (not well-formed) feed still yields its complete items.

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
        return tuple(to_post(item, source_key, url, now) for item in items)
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
    if not parsed.entries and not parsed.get("version"):
        raise ParseError(source_key, _not_a_feed(body, url))
    return tuple(to_post(item, source_key, url, now) for item in _raw_items(parsed))


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
    a 16 kB document can become a 20-million-character title (API-NOTES §5
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
    head = body[:65536]
    if _HTML_START.search(head) is None:
        return "not a feed (no RSS, Atom or JSON Feed found)"
    feed = _alternate_feed(head, url)
    if feed:
        return f"not a feed (an HTML page); its feed is at {feed}: use that as the source url"
    return "not a feed (HTML page)"


def _alternate_feed(head: bytes, url: str) -> str:
    """The first `<link rel="alternate" type="…feed…">` of an HTML page."""
    for tag in _LINK_TAG.findall(head):
        attrs = {m[0].lower(): (m[1] or m[2] or m[3]) for m in _TAG_ATTR.findall(tag)}
        rel = attrs.get(b"rel", b"").lower().split()
        if b"alternate" in rel and attrs.get(b"type", b"").lower() in _FEED_TYPES:
            return web_url(attrs.get(b"href", b"").decode("utf-8", "replace"), url)
    return ""


def _raw_items(parsed: Any) -> Iterable[RawItem]:
    """RawItems from a feedparser result.

    When the document was not well-formed, items with neither id nor link
    are dropped: a truncated document ends with such a partial item
    (API-NOTES §5, `truncated.xml`), which would otherwise be stored under a
    hash of its half title and never replaced.
    """
    truncated = isinstance(parsed.get("bozo_exception"), xml.sax.SAXException)
    feed = parsed.feed
    language = feed.get("language") or None
    feed_author = feed.get("author", "")
    for entry in parsed.entries:
        item = _raw_item(entry, language, feed_author)
        if truncated and not (item.id or item.link):
            continue
        yield item


def _raw_item(entry: Any, language: str | None, feed_author: str) -> RawItem:
    # Plain dict access: FeedParserDict.get maps missing keys onto others
    # (updated -> published) with a DeprecationWarning, and is slower.
    entry = dict(entry)
    content, is_text, base = _content(entry)
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author") or feed_author
    enclosures = tuple(
        (str(link.get("href", "")), str(link.get("type", "")))
        for link in entry.get("links", ())
        if link.get("rel") == "enclosure"
    )
    return RawItem(
        id=str(entry.get("id", "")),
        title=str(entry.get("title", "")),
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
    """Image URLs: Media RSS thumbnails (YouTube), image media:content, itunes:image."""
    found = [str(t.get("url", "")) for t in entry.get("media_thumbnail", ())]
    found += [
        str(m.get("url", ""))
        for m in entry.get("media_content", ())
        if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")
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

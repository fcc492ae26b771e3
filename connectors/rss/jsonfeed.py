"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) to `RawItem`s.

feedparser 6.0.x cannot read JSON Feed (docs/api-notes.md §5), so it is read with
`json` here. Values of the wrong type are ignored rather than trusted: a
feed with a numeric title or a string where a list belongs still yields its
usable items.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aggregator.domain.errors import ParseError
from connectors.rss.item import RawItem

__all__ = ["parse_json_feed"]

_VERSION_PREFIX = "https://jsonfeed.org/version/"


def parse_json_feed(source_key: str, body: bytes) -> list[RawItem]:
    """The items of a JSON Feed document.

    Raises ParseError when the body is not JSON or has no jsonfeed.org
    `version` (an unknown version number is read as 1.1).
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError(source_key, f"not a feed (invalid JSON: {str(exc)[:100]})") from exc
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIX):
        raise ParseError(source_key, "not a feed (JSON without a jsonfeed.org version)")
    language = _str(doc.get("language")) or None
    feed_author = _author(doc)
    items = doc.get("items")
    if not isinstance(items, list):
        return []
    return [_raw_item(item, language, feed_author) for item in items if isinstance(item, dict)]


def _raw_item(item: dict[str, Any], language: str | None, feed_author: str) -> RawItem:
    html, text = _str(item.get("content_html")), _str(item.get("content_text"))
    summary = _str(item.get("summary"))
    content, is_text = (
        (html, False) if html else (text or summary, not html and bool(text or summary))
    )
    raw_id = item.get("id")
    item_id = (
        str(raw_id)
        if isinstance(raw_id, (str, int, float)) and not isinstance(raw_id, bool)
        else ""
    )
    attachments = item.get("attachments")
    enclosures = tuple(
        (_str(a.get("url")), _str(a.get("mime_type")))
        for a in (attachments if isinstance(attachments, list) else ())
        if isinstance(a, dict)
    )
    images = tuple(u for u in (_str(item.get("image")), _str(item.get("banner_image"))) if u)
    tags = item.get("tags")
    published, modified = _str(item.get("date_published")), _str(item.get("date_modified"))
    return RawItem(
        id=item_id,
        title=_str(item.get("title")),
        title_is_text=True,  # JSON Feed titles are plain text
        link=_str(item.get("url")) or _str(item.get("external_url")),
        content=content,
        content_is_text=is_text,
        base="",
        author=_author(item) or feed_author,
        published_at=_date(published),
        updated_at=_date(modified),
        enclosures=enclosures,
        images=images,
        tags=tuple(t for t in (tags if isinstance(tags, list) else ()) if isinstance(t, str)),
        language=_str(item.get("language")) or language,
        fingerprint=(
            item_id,
            _str(item.get("title")),
            _str(item.get("url")),
            html,
            text,
            summary,
            published,
            modified,
            *(url for url, _ in enclosures),
        ),
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _author(obj: dict[str, Any]) -> str:
    """Names of `authors` (1.1), else of `author` (1.0), comma-separated."""
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]
    names = (_str(a.get("name")) for a in authors if isinstance(a, dict))
    return ", ".join(name for name in names if name.strip())


def _date(value: str) -> datetime | None:
    """An RFC 3339 date as aware UTC; None if missing or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)

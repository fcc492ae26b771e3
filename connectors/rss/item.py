"""One feed item, whatever its format, turned into a `Post`.

The RSS/Atom reader (`feedparse.py`) and the JSON Feed reader
(`jsonfeed.py`) each fill a `RawItem` with what the document says, untouched;
`to_post` is the one place where it is cleaned: identity,
dates, URLs, sanitised HTML, media.
"""

from __future__ import annotations

import hashlib
import html as _html
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from aggregator.domain.images import is_tracker_url
from aggregator.domain.post import Post
from aggregator.domain.story import keys_of
from connectors.sanitize import html_to_text, one_line, plain_text, sanitize_html

__all__ = ["RawItem", "byline", "to_post", "web_url"]

_HREF = re.compile(r'<a\s[^>]*?href="([^"]*)"')
# An address in a byline ("ana@school.org (Ana Diaz)", "Name <me@example.com>"):
# shown to every reader of the digest, so it is never kept.
_EMAIL = re.compile(r"[<(]?\s*(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*[>)]?")


@dataclass(frozen=True, slots=True)
class RawItem:
    """An item as the document gave it (strings not yet cleaned).

    `content` is HTML unless `content_is_text`, `title` likewise with
    `title_is_text`; `base` is the URL its relative links are relative to
    (xml:base or the document URL);
    `published_at`/`updated_at` are aware UTC when the document had a
    readable date. `fingerprint` holds the raw fields that define the item,
    hashed into `Post.content_hash`.
    """

    id: str
    title: str
    title_is_text: bool
    link: str
    content: str
    content_is_text: bool
    base: str
    author: str
    published_at: datetime | None
    updated_at: datetime | None
    enclosures: tuple[tuple[str, str], ...]
    images: tuple[str, ...]
    tags: tuple[str, ...]
    language: str | None
    fingerprint: tuple[str, ...]


def web_url(url: str, base: str) -> str:
    """`url` made absolute against `base` if it is then http(s), else ""."""
    url = url.strip()
    if not url:
        return ""
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return absolute


def _digest(parts: tuple[str, ...]) -> str:
    joined = "\x1f".join(parts)  # unit separator: field boundaries stay visible
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def to_post(
    raw: RawItem, source_key: str, feed_url: str, now: datetime, undated_at: datetime | None = None
) -> Post | None:
    """Clean a `RawItem` into a `Post` (network "rss"); None for an item with
    no title, text, link or media (nothing a reader could be shown).

    Identity: the item's id, else its link, else a hash of title and
    content, so an item with neither keeps the same id on every fetch.
    Date: published, else updated, else `undated_at` (default `now`: first
    seen); never later than `now`. URLs are absolute http(s) or dropped.
    Bylines lose e-mail addresses. The post's keys (canonical URL, story
    keys) are worked out here, where the feed is parsed (a worker process
    when there is a parse pool), not on the thread that stores it.
    """
    base = web_url(raw.base, feed_url) or feed_url
    link = web_url(raw.link, base)
    body = _html.escape(raw.content) if raw.content_is_text else raw.content
    html = sanitize_html(body, base_url=base)
    text = html_to_text(html, is_sanitized=True)
    title = one_line(raw.title) if raw.title_is_text else plain_text(raw.title)
    media_url, media_type, image_url = _media(raw, base)
    if not (title or text or link or media_url):
        return None
    external_id = raw.id.strip() or link or "sha256:" + _digest((raw.title, raw.content))
    when = raw.published_at or raw.updated_at or undated_at or now
    links = _links(html)
    keys = keys_of(url=link, declared_url="", links=links)
    return Post(
        source_key=source_key,
        external_id=external_id,
        network="rss",
        url=link,
        author=byline(raw.author),
        title=title or None,
        text=text,
        html=html,
        published_at=min(when, now),
        media_url=media_url,
        media_type=media_type,
        image_url=image_url,
        hashtags=_hashtags(raw.tags),
        language=raw.language or None,
        links=links,
        content_hash=_digest(raw.fingerprint),
        canonical_url=keys.canonical_url,
        story_keys=keys.story_keys,
    )


def byline(author: str) -> str:
    """An author as shown to readers: plain text without e-mail addresses
    (`"ana@school.org (Ana Diaz)"` -> `"Ana Diaz"`, a bare address -> `""`)."""
    name = " ".join(_EMAIL.sub(" ", plain_text(author)).split()).strip(" ,;-")
    if name.startswith("(") and name.endswith(")"):  # RSS 2.0: "address (Name)"
        name = name[1:-1].strip()
    return name


def _media(raw: RawItem, base: str) -> tuple[str | None, str | None, str | None]:
    """(media_url, media_type, image_url): the first http(s) audio/video
    enclosure, and the first http(s) image (thumbnail or image enclosure)
    that is not a known tracking pixel."""
    media_url = media_type = None
    images = [web_url(href, base) for href in raw.images]
    for href, mime in raw.enclosures:
        url = web_url(href, base)
        if not url:
            continue
        if mime.startswith("image/"):
            images.append(url)
        elif media_url is None:
            media_url, media_type = url, (mime or None)
    image_url = next((url for url in images if url and not is_tracker_url(url)), None)
    return media_url, media_type, image_url


def _hashtags(tags: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = (plain_text(tag).lstrip("#").lower() for tag in tags)
    return tuple(dict.fromkeys(tag for tag in cleaned if tag))


def _links(html: str) -> tuple[str, ...]:
    """Distinct http(s) link targets in sanitised HTML, in order."""
    found = (_html.unescape(href) for href in _HREF.findall(html))
    return tuple(dict.fromkeys(url for url in found if url.startswith(("http://", "https://"))))

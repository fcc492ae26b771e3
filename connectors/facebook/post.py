"""Graph API page and group posts as `Post`s: message, attachments, reactions, comments, shares."""

from __future__ import annotations

import hashlib
import html as _html
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aggregator.domain.post import Engagement, Post
from aggregator.domain.source import SourceConfig
from connectors.sanitize import html_to_text, sanitize_html

log = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"']+")
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
_TRAILING = ".,;:!?)]}'\""


def to_posts(items: list[Any], source: SourceConfig, now: datetime) -> tuple[list[Post], int]:
    """Posts from raw Graph posts (first occurrence of an id wins), and how
    many were malformed and skipped."""
    posts: dict[str, Post] = {}
    skipped = 0
    for raw in items:
        try:
            post = _to_post(raw, source, now)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("%s: skipped a malformed Facebook post", source.key)
            skipped += 1
            continue
        posts.setdefault(post.external_id, post)
    return list(posts.values()), skipped


def _to_post(raw: Any, source: SourceConfig, now: datetime) -> Post:
    """One Graph post as a `Post`. Raises KeyError/TypeError/ValueError when
    it has no id or no readable created_time."""
    post_id = raw["id"]
    if not isinstance(post_id, str) or not post_id:
        raise ValueError("post without id")
    attachments = _attachments(raw)
    message = _text_field(raw, "message")
    body = message or _attachment_text(attachments)
    html = sanitize_html(_linkify(body))
    engagement = _engagement(raw)
    media_url, media_type = _video(attachments)
    author = raw.get("from", {}).get("name") if isinstance(raw.get("from"), dict) else None
    return Post(
        source_key=source.key,
        external_id=post_id,
        network="facebook",
        url=_web(raw.get("permalink_url")) or f"https://www.facebook.com/{post_id}",
        author=author if isinstance(author, str) and author else source.title,
        title=None,
        text=html_to_text(html, is_sanitized=True),
        html=html,
        published_at=min(_graph_time(raw["created_time"]), now),
        engagement=engagement,
        media_url=media_url,
        media_type=media_type,
        image_url=_web(raw.get("full_picture")) or _attachment_image(attachments),
        hashtags=tuple(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(body))),
        links=_links(body, attachments),
        content_hash=_digest(
            post_id,
            message,
            _text_field(raw, "updated_time"),
            _text_field(raw, "permalink_url"),
            repr(engagement),
        ),
    )


def _text_field(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return value if isinstance(value, str) else ""


def _attachments(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    block = raw.get("attachments")
    data = block.get("data") if isinstance(block, dict) else None
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


def _attachment_text(attachments: list[dict[str, Any]]) -> str:
    """What stands for the text of a post without a message: the first
    attachment's description, else its title."""
    for attachment in attachments:
        for name in ("description", "title"):
            value = attachment.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return ""


def _graph_time(value: str) -> datetime:
    """Graph's "2021-07-09T19:09:52+0000" as an aware UTC datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


def _count(raw: Mapping[str, Any], field: str, *path: str) -> int:
    node: Any = raw.get(field)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, int) and not isinstance(node, bool) and node > 0 else 0


def _engagement(raw: Mapping[str, Any]) -> Engagement:
    """likes = all reactions, replies = comments, reposts = shares."""
    return Engagement(
        likes=_count(raw, "reactions", "summary", "total_count"),
        reposts=_count(raw, "shares", "count"),
        replies=_count(raw, "comments", "summary", "total_count"),
    )


def _web(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL, else None."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _unwrap(url: str) -> str:
    """The target of Facebook's link shim (l.facebook.com/l.php?u=...)."""
    parts = urlsplit(url)
    if parts.netloc in ("l.facebook.com", "lm.facebook.com") and parts.path == "/l.php":
        target = _web(parse_qs(parts.query).get("u", [""])[0])
        if target:
            return target
    return url


def _is_facebook(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "facebook.com" or host.endswith(".facebook.com")


def _links(body: str, attachments: list[dict[str, Any]]) -> tuple[str, ...]:
    """URLs the post shares: those in its text, and its attachments' targets
    that leave Facebook (a photo's own page is not a shared link)."""
    found = [_unwrap(url) for url in _urls(body)]
    for attachment in attachments:
        url = _web(attachment.get("url"))
        if url and not _is_facebook(_unwrap(url)):
            found.append(_unwrap(url))
    return tuple(dict.fromkeys(found))


def _attachment_image(attachments: list[dict[str, Any]]) -> str | None:
    for attachment in attachments:
        media = attachment.get("media")
        image = media.get("image") if isinstance(media, dict) else None
        src = _web(image.get("src")) if isinstance(image, dict) else None
        if src:
            return src
    return None


def _video(attachments: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(media_url, "video") for a video attachment, else (None, None)."""
    for attachment in attachments:
        url = _web(attachment.get("url"))
        if attachment.get("media_type") == "video" and url:
            return url, "video"
    return None, None


def _urls(text: str) -> list[str]:
    return [match.rstrip(_TRAILING) for match in _URL.findall(text)]


def _linkify(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept, URLs made links."""
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        out.append(_html.escape(text[position : match.start()]))
        out.append(f'<a href="{_html.escape(url)}">{_html.escape(url)}</a>')
        position = match.start() + len(url)
    out.append(_html.escape(text[position:]))
    return "".join(out).replace("\n", "<br>")


def short_message(message: str) -> str:
    """A Graph message on one line, at most 160 characters (for error messages)."""
    line = " ".join(message.split())
    return line if len(line) <= 160 else line[:157] + "..."


def _digest(*parts: str) -> str:
    joined = "\x1f".join(parts)  # unit separator: field boundaries stay visible
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()

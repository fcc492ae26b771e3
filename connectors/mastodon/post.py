"""Mastodon statuses as `Post`s: boosts unwrapped, content warnings, media, counts.

A boost gives two posts: its original, under the original's id, and the
boost itself as a repost of it (no text, no counts of its own), so that
the booster counts among those who shared it.
"""

from __future__ import annotations

import hashlib
import html as _html
import json
import logging
import mimetypes
from collections.abc import Iterable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from aggregator.domain.post import Engagement, Post
from connectors.rss.item import web_url
from connectors.sanitize import html_to_text, one_line, plain_text, sanitize_html

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def to_posts(
    statuses: Iterable[JSON], source_key: str, host: str, now: datetime
) -> tuple[tuple[Post, ...], int]:
    """Posts for the statuses, boosts unwrapped (each original once, first
    seen wins: pages come newest first) and each boost a repost of its
    original; and how many statuses were malformed."""
    posts: dict[str, Post] = {}
    skipped = 0
    for status in statuses:
        original = status.get("reblog") if isinstance(status, dict) else None
        if not isinstance(original, dict):
            original = status
        try:
            post = _to_post(original, source_key, host, now)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.info("%s: skipped a malformed status: %r", source_key, exc)
            skipped += 1
            continue
        posts.setdefault(post.external_id, post)
        if original is not status and post.url:
            try:
                repost = _to_repost(status, post, host, now)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.info("%s: a boost of %s not counted: %r", source_key, post.url, exc)
                continue
            posts.setdefault(repost.external_id, repost)
    return tuple(posts.values()), skipped


def _to_post(status: JSON, source_key: str, host: str, now: datetime) -> Post:
    """One status (never a boost wrapper) as a Post; raises KeyError,
    TypeError or ValueError when a required field is missing or wrong."""
    external_id = status["id"]
    if not isinstance(external_id, str) or not external_id:
        raise ValueError("status without an id")
    published = parse_time(status["created_at"])
    if published is None:
        raise ValueError("status without a readable created_at")
    url = web_url(status.get("url") or "", "") or web_url(status.get("uri") or "", "")
    spoiler = one_line(status.get("spoiler_text") or "")  # plain text in the API
    content = status.get("content") or ""
    html, text = _body(content, spoiler, url)
    media_url, media_type, image_url = _media(status)
    return Post(
        source_key=source_key,
        external_id=external_id,
        network="mastodon",
        url=url,
        author=_author(status["account"], host),
        author_url=web_url(str(status["account"].get("url") or ""), ""),
        title=None,
        text=text,
        html=html,
        published_at=min(published, now),
        engagement=_engagement(status),
        media_url=media_url,
        media_type=media_type,
        image_url=image_url,
        hashtags=_hashtags(status.get("tags")),
        language=status.get("language") or None,
        links=_links(content, url, status.get("card")),
        content_hash=_fingerprint(status),
    )


def _to_repost(boost: JSON, original: Post, host: str, now: datetime) -> Post:
    """A boost (a status whose `reblog` is `original`) as its booster's repost;
    raises like `_to_post`."""
    external_id = boost["id"]
    if not isinstance(external_id, str) or not external_id:
        raise ValueError("boost without an id")
    published = parse_time(boost.get("created_at")) or original.published_at
    return Post(
        source_key=original.source_key,
        external_id=external_id,
        network="mastodon",
        url=original.url,
        author=_author(boost["account"], host),
        author_url=web_url(str(boost["account"].get("url") or ""), ""),
        title=None,
        text="",
        html="",
        published_at=min(published, now),
        content_hash=hashlib.sha256(f"boost\x1f{external_id}".encode()).hexdigest(),
        repost_of=original.url,
    )


def _body(content: str, spoiler: str, base: str) -> tuple[str, str]:
    """(html, text): the sanitised content, behind a "CW: ..." warning when
    the author set a content warning."""
    html = sanitize_html(content, base_url=base or None)
    text = html_to_text(html, is_sanitized=True)
    if not spoiler:
        return html, text
    warning = f"<p><strong>CW: {_html.escape(spoiler)}</strong></p>"
    return warning + html, f"CW: {spoiler} \u2014 {text}" if text else f"CW: {spoiler}"


def _author(account: JSON, host: str) -> str:
    """ "Display Name (@user@host)"; local accounts get the instance's host."""
    acct = str(account.get("acct") or account["username"])
    handle = f"@{acct}" if "@" in acct else f"@{acct}@{host}"
    name = one_line(str(account.get("display_name") or ""))  # plain text in the API
    return f"{name} ({handle})" if name else handle


def _engagement(status: JSON) -> Engagement:
    def count(key: str) -> int:
        value = status.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    return Engagement(
        likes=count("favourites_count"),
        reposts=count("reblogs_count"),
        replies=count("replies_count"),
        quotes=count("quotes_count"),
    )


def _media(status: JSON) -> tuple[str | None, str | None, str | None]:
    """(media_url, media_type, image_url) from the attachments.

    The first video (gifv counts) or audio is the media, its MIME type
    guessed from the file name; the picture is the first image, else a
    video's preview, else the link card's image. Media marked sensitive is
    not shown inline: no picture then.
    """
    media_url = media_type = None
    images: list[str] = []
    previews: list[str] = []
    for item in status.get("media_attachments") or ():
        kind = str(item.get("type") or "")
        href = web_url(str(item.get("url") or item.get("remote_url") or ""), "")
        if kind == "image":
            images.append(href)
        elif kind in ("video", "gifv", "audio") and href and media_url is None:
            media_url, media_type = href, _mime(href, "audio" if kind == "audio" else "video")
            previews.append(web_url(str(item.get("preview_url") or ""), ""))
    card = status.get("card")
    if isinstance(card, dict):
        previews.append(web_url(str(card.get("image") or ""), ""))
    if status.get("sensitive"):
        return media_url, media_type, None
    return media_url, media_type, next((i for i in (*images, *previews) if i), None)


def _mime(url: str, kind: str) -> str:
    """The file's MIME type when its name says it is `kind`, else just `kind`."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith(f"{kind}/") else kind


def _hashtags(tags: object) -> tuple[str, ...]:
    """The status's tags (lowercase, no '#'), in order, each once."""
    names = (
        plain_text(str(t.get("name") or "")).lstrip("#").lower()
        for t in (tags if isinstance(tags, list) else ())
        if isinstance(t, dict)
    )
    return tuple(dict.fromkeys(n for n in names if n))


class _LinkCollector(HTMLParser):
    """The href of every <a> in status HTML that is not a mention or a
    hashtag (Mastodon marks those with class "mention" / "hashtag")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if "mention" in classes or "hashtag" in classes or found.get("rel") == "tag":
            return
        self.hrefs.append(found.get("href") or "")


def _links(content: str, base: str, card: object) -> tuple[str, ...]:
    """The http(s) links a status shares: its content's links (not mentions
    or hashtags) and its preview card's URL, each once."""
    collector = _LinkCollector()
    collector.feed(content)
    collector.close()
    hrefs = list(collector.hrefs)
    if isinstance(card, dict):
        hrefs.append(str(card.get("url") or ""))
    found = (web_url(href, base) for href in hrefs)
    return tuple(dict.fromkeys(url for url in found if url))


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from the API as aware UTC, or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _fingerprint(status: JSON) -> str:
    """sha256 over what may change in a status: content, warning, edit time,
    counts, media and card; an edit or new likes mean an update."""
    media = [
        (m.get("url"), m.get("description"))
        for m in status.get("media_attachments") or ()
        if isinstance(m, dict)
    ]
    card = status.get("card")
    parts = [
        status.get(k)
        for k in (
            "content",
            "spoiler_text",
            "edited_at",
            "sensitive",
            "favourites_count",
            "reblogs_count",
            "replies_count",
            "quotes_count",
            "language",
        )
    ]
    parts += [media, card.get("url") if isinstance(card, dict) else None]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

"""A Bluesky postView (app.bsky.feed.defs) as a `Post`: rich-text facets, embeds, counts."""

from __future__ import annotations

import hashlib
import html as _html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aggregator.domain.post import Engagement, Post
from connectors.rss.item import web_url
from connectors.sanitize import one_line, plain_text, sanitize_html

_POST_COLLECTION = "app.bsky.feed.post"
_BARE_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")
_SCHEME = re.compile(r"^https?://(?:www\.)?", re.IGNORECASE)
_HLS = "application/x-mpegURL"  # video#view `playlist` is an HLS playlist


@dataclass
class _Body:
    """A post's content as it is assembled: inline text and HTML from the
    record, `blocks` (text, html) from its embeds, the links and media."""

    text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    image_url: str | None = None
    media_url: str | None = None
    media_type: str | None = None


def to_post(raw: dict[str, Any], source_key: str, now: datetime) -> Post:
    """Turn one `app.bsky.feed.defs#postView` into a Post (network "bluesky").

    Text has link facets expanded (UTF-8 byte ranges), embeds become the image,
    video, shared link or quoted post; the date is record.createdAt (else
    indexedAt, else `now`), never later than `now`. Raises ValueError when the
    view has no post uri, author or text.
    """
    uri, record, author = _text(raw, "uri"), _obj(raw, "record"), _obj(raw, "author")
    handle, url = _text(author, "handle"), _web_url(uri, _text(author, "handle"))
    if not url or not isinstance(record.get("text"), str):
        raise ValueError("not a post view")
    body = _Body()
    facet_tags = _rich_text(body, record["text"], _list(record, "facets"))
    _embed(body, _obj(raw, "embed"))
    html = "<p>" + "".join(body.html) + "</p>" + "".join(block for _, block in body.blocks)
    created = parse_time(record.get("createdAt")) or parse_time(raw.get("indexedAt")) or now
    name = one_line(_text(author, "displayName"))  # plain text in the lexicon
    langs = record.get("langs")
    return Post(
        source_key=source_key,
        external_id=uri,
        network="bluesky",
        url=url,
        author=f"{name} (@{handle})" if name else f"@{handle or _did(uri)}",
        author_url=f"https://bsky.app/profile/{quote(handle)}" if handle else "",
        title=None,
        text="".join(body.text) + "".join("\n\n" + t for t, _ in body.blocks),
        html=sanitize_html(html),
        published_at=min(created, now),
        engagement=Engagement(
            _count(raw, "likeCount"),
            _count(raw, "repostCount"),
            _count(raw, "replyCount"),
            _count(raw, "quoteCount"),
        ),
        media_url=body.media_url,
        media_type=body.media_type,
        image_url=body.image_url,
        hashtags=_hashtags(facet_tags, record.get("tags")),
        language=langs[0]
        if isinstance(langs, list) and langs and isinstance(langs[0], str)
        else None,
        links=tuple(dict.fromkeys(body.links)),
        content_hash=_fingerprint(raw, record),
    )


def _rich_text(body: _Body, text: str, facets: list[dict[str, Any]]) -> list[str]:
    """Add `text` to `body` with its link facets expanded; return its tag facets.

    Facet indexes are UTF-8 byte offsets (app.bsky.richtext.facet); a facet
    out of range or overlapping an earlier one leaves the text as written.
    """
    data = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    tags: list[str] = []
    for facet in facets:
        index = _obj(facet, "index")
        start, end = index.get("byteStart"), index.get("byteEnd")
        for feature in _list(facet, "features"):
            kind, link = _text(feature, "$type"), web_url(_text(feature, "uri"), "")
            if kind.endswith("#tag"):
                tags.append(_text(feature, "tag"))
            elif (
                kind.endswith("#link") and link and isinstance(start, int) and isinstance(end, int)
            ):
                spans.append((start, end, link))
    position = 0
    for start, end, link in sorted(spans):
        if start < position or start >= end or end > len(data):
            continue
        _add_plain(body, data[position:start].decode("utf-8", "replace"))
        _add_link(body, data[start:end].decode("utf-8", "replace"), link)
        position = end
    _add_plain(body, data[position:].decode("utf-8", "replace"))
    return tags


def _add_plain(body: _Body, segment: str) -> None:
    """Plain text: escaped, line breaks kept, bare http(s) URLs linked."""
    position = 0
    for match in _BARE_URL.finditer(segment):
        body.text.append(segment[position : match.start()])
        body.html.append(_escape_lines(segment[position : match.start()]))
        _add_link(body, match.group(), match.group())
        position = match.end()
    body.text.append(segment[position:])
    body.html.append(_escape_lines(segment[position:]))


def _add_link(body: _Body, label: str, link: str) -> None:
    """A link facet: clients show a shortened URL ("example.org/pa..."), which
    becomes the full URL; any other label is kept, the URL after it."""
    shown = _SCHEME.sub("", label.strip().removesuffix("...").removesuffix("…"))
    is_url = bool(shown) and _SCHEME.sub("", link).startswith(shown)
    body.text.append(link if is_url else f"{label} ({link})")
    body.html.append(
        f'<a href="{_html.escape(link)}">{_html.escape(link if is_url else label)}</a>'
    )
    body.links.append(link)


def _embed(body: _Body, embed: dict[str, Any]) -> None:
    """Images, video, a link card and a quoted post (app.bsky.embed.*#view)."""
    kind = _text(embed, "$type")
    if kind == "app.bsky.embed.recordWithMedia#view":
        _embed(body, _obj(embed, "media"))
        # `record` is a plain ref to embed.record#view: no $type to dispatch on.
        _quote(body, _obj(_obj(embed, "record"), "record"))
    elif kind == "app.bsky.embed.images#view":
        urls = (
            web_url(_text(i, "fullsize") or _text(i, "thumb"), "") for i in _list(embed, "images")
        )
        body.image_url = body.image_url or next((u for u in urls if u), None)
    elif kind == "app.bsky.embed.video#view":
        body.media_url = web_url(_text(embed, "playlist"), "") or None
        body.media_type = _HLS if body.media_url else None
        body.image_url = body.image_url or web_url(_text(embed, "thumbnail"), "") or None
    elif kind == "app.bsky.embed.external#view":
        _link_card(body, _obj(embed, "external"))
    elif kind == "app.bsky.embed.record#view":
        _quote(body, _obj(embed, "record"))


def _link_card(body: _Body, card: dict[str, Any]) -> None:
    link = web_url(_text(card, "uri"), "")
    if not link:
        return
    title = one_line(_text(card, "title")) or link
    # The card usually repeats a link of the text: then its text is the title alone.
    text = title if link in body.links or title == link else f"{title} {link}"
    body.blocks.append((text, f'<p><a href="{_html.escape(link)}">{_html.escape(title)}</a></p>'))
    body.links.append(link)
    body.image_url = body.image_url or web_url(_text(card, "thumb"), "") or None


def _quote(body: _Body, quoted: dict[str, Any]) -> None:
    """A quoted post (viewRecord, or viewNotFound/viewBlocked with only a uri):
    a link to it, not a post of its own."""
    handle = _text(_obj(quoted, "author"), "handle")
    link = _web_url(_text(quoted, "uri"), handle)
    if not link:
        return  # a quoted feed generator, list or labeler: nothing to read
    who = f"@{handle}" if handle else "a post"
    body.blocks.append(
        (
            f"Quoting {who}: {link}",
            f'<p>Quoting <a href="{_html.escape(link)}">{_html.escape(who)}</a></p>',
        )
    )
    body.links.append(link)


def _web_url(uri: str, handle: str) -> str:
    """https://bsky.app/profile/<handle or did>/post/<rkey> for a post's at:// uri
    (bsky-docs oembed pattern), "" if `uri` is not a post."""
    did, _, rest = uri.removeprefix("at://").partition("/")
    collection, _, rkey = rest.partition("/")
    if not uri.startswith("at://") or collection != _POST_COLLECTION or not rkey or "/" in rkey:
        return ""
    profile = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{profile}/post/{rkey}"


def _did(uri: str) -> str:
    return uri.removeprefix("at://").partition("/")[0]


def _hashtags(facet_tags: list[str], record_tags: object) -> tuple[str, ...]:
    extra = [t for t in record_tags if isinstance(t, str)] if isinstance(record_tags, list) else []
    cleaned = (plain_text(tag).lstrip("#").lower() for tag in facet_tags + extra)
    return tuple(dict.fromkeys(tag for tag in cleaned if tag))


def _fingerprint(raw: dict[str, Any], record: dict[str, Any]) -> str:
    """What makes a new version: the record (its cid), its text and counts."""
    parts = [_text(raw, "cid"), str(record.get("text")), _text(_obj(raw, "embed"), "$type")]
    parts += [str(_count(raw, k)) for k in ("likeCount", "repostCount", "replyCount", "quoteCount")]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def parse_time(value: object) -> datetime | None:
    """An atproto datetime (RFC 3339) as aware UTC; None if unreadable.
    A datetime without offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)


def _escape_lines(segment: str) -> str:
    return _html.escape(segment).replace("\r\n", "\n").replace("\n", "<br>")


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

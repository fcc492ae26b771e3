"""What an HTML page says about its feeds: `<link rel="alternate">` tags.

Pure: bytes in, links out. Only the head of the page is read (up to its
`<body>`), and at most 2 MB of it, so a hostile page costs little.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

from connectors.rss.item import web_url

__all__ = ["FeedLink", "feed_links", "is_html_page", "main_feeds", "page_title"]

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
_HEAD_LIMIT = 2_000_000
_HTML_START = re.compile(rb"<html[\s>]|<!doctype\s+html", re.IGNORECASE)
_COMMENTS = re.compile(r"comment", re.IGNORECASE)


def is_html_page(body: bytes) -> bool:
    """Whether the document starts like an HTML page (looked for in its first 64 KiB)."""
    return _HTML_START.search(body[:65536]) is not None


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed an HTML page names: its absolute URL, title and media type."""

    url: str
    title: str = ""
    type: str = "application/rss+xml"


class _Head(HTMLParser):
    """Collects `<base href>`, the page's `<title>` and its feed links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base = ""
        self.title = ""
        self.links: list[tuple[str, str, str]] = []
        self.done = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "body":
            self.done = True
        elif tag == "base" and not self.base:
            self.base = values.get("href", "")
        elif tag == "title" and not self.title:
            self._in_title = True
        elif tag == "link":
            rel = values.get("rel", "").lower().split()
            kind = values.get("type", "").lower().split(";")[0].strip()
            if "alternate" in rel and kind in FEED_TYPES and values.get("href"):
                self.links.append((values["href"], values.get("title", "").strip(), kind))

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False
        if tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _read_head(body: bytes) -> _Head:
    text = body[:_HEAD_LIMIT].decode("utf-8", "replace")
    head = _Head()
    for start in range(0, len(text), 65536):
        head.feed(text[start : start + 65536])
        if head.done:
            break
    return head


def feed_links(body: bytes, url: str) -> list[FeedLink]:
    """The feeds an HTML page names, in page order, each once, made absolute
    against the page's `<base href>` and `url`; only http(s) addresses."""
    head = _read_head(body)
    base = web_url(head.base, url) or url
    links: dict[str, FeedLink] = {}
    for href, title, kind in head.links:
        absolute = web_url(href, base)
        if absolute and absolute not in links:
            links[absolute] = FeedLink(absolute, " ".join(title.split()), kind)
    return list(links.values())


def main_feeds(links: Iterable[FeedLink]) -> list[FeedLink]:
    """The page's own feeds, without its comment feeds (a WordPress blog
    names both "Feed" and "Comments Feed")."""
    return [link for link in links if not _COMMENTS.search(f"{link.title} {link.url}")]


def page_title(body: bytes) -> str:
    """The page's `<title>`, on one line."""
    return " ".join(_read_head(body).title.split())

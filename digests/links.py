"""The links a digest shows: free of click tracking, the original post one tap away.

An entry links to what it is about. For a titled post (an article, an
episode, a newsletter issue) that is its own page. For an untitled post (a
social post) that shares a page of another site, it is that page, and the
post itself is one tap away as a small "post" link; likewise when the
post's source declared another page canonical (a repost of an original).

Every URL shown loses its tracking parameters (`utm_*`, `fbclid`, `si`...;
`aggregator.domain.canonical.clean_url`): the digest's own links, and the
URLs in a post's text and sanitised HTML. The rest of a URL stays as its
site wrote it: the canonical form that groups posts into stories forces
https and drops `www.`, which not every site answers.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aggregator.domain.canonical import canonical_url, clean_url
from aggregator.domain.post import Post
from aggregator.domain.story import is_story_url

# A URL in plain text, or in sanitised HTML (where it is escaped and quoted
# with `"`): it ends at white space, a quote or a bracket of markup.
_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EntryLinks:
    """Where an entry's headline goes (`page`, "" for none) and, when that is
    not the post's own page, the post's own page (`post`, else "")."""

    page: str
    post: str = ""


def entry_links(post: Post) -> EntryLinks:
    """The links an entry shows for `post` (see the module docstring)."""
    own = clean_url(post.url)
    shared = _shared_page(post)
    if shared and shared != own:
        return EntryLinks(shared, own)
    return EntryLinks(own)


def _shared_page(post: Post) -> str:
    """The page of another site an untitled post shares, or the page its source
    declared canonical when that is not the post's own; else ""."""
    own_key = canonical_url(post.url)
    if post.canonical_url and post.canonical_url != own_key:
        return clean_url(post.canonical_url)
    if post.title:
        return ""  # an article's links are what it cites, not what it is about
    own_host = urlsplit(own_key).hostname if own_key else None
    for link in post.links:
        key = canonical_url(link)
        if key and is_story_url(key) and urlsplit(key).hostname != own_host:
            return clean_url(link)
    return ""


def safe_href(url: str | None) -> str:
    """The URL if it is an absolute http(s) link, else "" (the template drops
    the link): escaping does not stop a `javascript:` URL."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # a malformed host or port: no link
        return ""
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def _cleaned(match: re.Match[str]) -> str:
    return clean_url(match.group(0)) or match.group(0)


def clean_text_links(text: str) -> str:
    """Plain text with the tracking parameters of its URLs removed."""
    return _URL.sub(_cleaned, text) if "://" in text else text


def _cleaned_escaped(match: re.Match[str]) -> str:
    url = _html.unescape(match.group(0))
    return _html.escape(clean_url(url) or url)


def clean_html_links(html: str) -> str:
    """Sanitised HTML with the tracking parameters of its URLs (link targets,
    image sources, URLs in its text) removed.

    Only the matched URLs change, each replaced by an escaped URL, so markup
    that was safe stays safe.
    """
    return _URL.sub(_cleaned_escaped, html) if "://" in html else html

"""`Post`, the one currency: connectors produce it, the store keeps it, digests rank and
render it. No API JSON, feedparser dict or ORM row crosses a module line; every
datetime is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Engagement:
    """What a network counts about a post; 0 where it does not count it."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def total(self) -> int:
        """All interactions added up (a crude, network-local signal)."""
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True, slots=True)
class Post:
    """One normalised item from any network.

    `html` is sanitised at ingest and is the only HTML a template trusts;
    `text` is plain text for ranking, reading time and the text digest.
    `content_hash` fingerprints what the source sent, so an unchanged item
    costs no write. `author` is the name a reader sees (with the handle on
    social networks); `author_url` their profile page, where there is one.

    A repost (a retweet, a boost, a Bluesky repost) is a post too, so that
    its author counts among those who shared the original: `repost_of` is
    the original's URL ("" for a post of its own words), which is also its
    `url`; it has no text and no counts of its own (the network's counts
    are the original's), and a digest never shows it as an entry.

    Two fields are worked out from the others when the post is stored
    (`aggregator.domain.story.with_keys`) and read back with it, so a digest
    does not redo that work for every recipient: `canonical_url`, the post's
    own page as a grouping key (a connector may set the URL its source
    declares canonical; the store canonicalises it, else `url`); and
    `story_keys`, the canonical URLs of what it is about (None: not worked
    out yet). Being derived, they take no part in comparing posts.
    """

    source_key: str
    external_id: str
    network: str
    url: str
    author: str
    title: str | None
    text: str
    html: str
    published_at: datetime
    engagement: Engagement = Engagement()
    media_url: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    canonical_url: str = field(default="", compare=False)
    hashtags: tuple[str, ...] = ()
    language: str | None = None
    links: tuple[str, ...] = ()
    content_hash: str = ""
    author_url: str = ""
    story_keys: tuple[str, ...] | None = field(default=None, compare=False)
    repost_of: str = ""

    @property
    def is_repost(self) -> bool:
        """Whether this is someone's repost of another post (see `repost_of`)."""
        return bool(self.repost_of)

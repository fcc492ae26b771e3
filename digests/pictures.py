"""The picture a top story shows, and its words for when images are blocked.

A top story shows the image its post carries: the picture or video preview
from the network's API, a feed's `media:thumbnail`, image enclosure or
item image, or a shared link's preview card (the connectors put it in
`Post.image_url`; an image enclosure may be `Post.media_url`). Only an
https image that is not a known tracking pixel is shown
(`aggregator.domain.images`); none when the post's own HTML, shown whole,
already holds it. The template gives it a width and this alt text, and
no height: with images blocked, the alt text takes the image's place as a
line of text and the layout closes up around it.
"""

from __future__ import annotations

import html as _html

from aggregator.domain.images import picture_url
from aggregator.domain.post import Post

# An alt text is read aloud or shown in the image's place: one short line.
_ALT_CHARS = 120


def picture_of(post: Post, shows_html: bool) -> str:
    """The URL of the picture to show with `post`, or ""."""
    candidates = [post.image_url]
    if post.media_type and post.media_type.startswith("image/"):
        candidates.append(post.media_url)
    for candidate in candidates:
        url = picture_url(candidate)
        if url and not (shows_html and _html.escape(url) in post.html):
            return url
    return ""


def picture_alt(headline: str, source_title: str) -> str:
    """The alt text of a story's picture: what it belongs to, on one line."""
    alt = f"Picture from {source_title}: {headline}" if source_title else f"Picture: {headline}"
    alt = " ".join(alt.split())
    return alt if len(alt) <= _ALT_CHARS else alt[: _ALT_CHARS - 1].rstrip() + "\u2026"

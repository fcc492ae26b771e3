"""Which images are pictures a reader may be shown, and which are trackers or icons.

Shared by the two places that decide about images: the sanitiser
(`connectors.sanitize`, images inside a post's HTML) and the digest
(`digests.pictures`, the picture shown with a top story). A tracking pixel
reports who opened a page or an email, so it is never shown; an icon
stretched to a picture's width looks broken, so a post's picture is only
what is big enough to be one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Open-tracking pixels of common blog, feed and mailing services: they are
# often served without a size, so the 1x1 rule alone does not catch them.
_TRACKERS = re.compile(
    r"^https?://(?:[^/]*\.)?(?:pixel\.wp\.com|stats\.wordpress\.com|"
    r"feeds\.feedburner\.com/~r/|feedproxy\.google\.com/~r/|www\.google-analytics\.com|"
    r"ad\.doubleclick\.net|pixel\.quantserve\.com|[^/]*list-manage\.com/track/|"
    r"[^/]*sendgrid\.net/wf/open|[^/]*mailchimp\.com/track/|[^/]*substack\.com/o/|"
    r"[^/]*\.mjt\.lu/oo/|[^/]*hubspotlinks\.com/|track\.customer\.io/)",
    re.IGNORECASE,
)
# A size given as 0 or 1 (pixels) is a tracking pixel's.
_PIXEL_SIZES = frozenset({"0", "1", "0.0", "1.0"})
# A post's picture narrower than this (when its source says its size) is
# an icon or an avatar, not a picture worth a story's width.
MIN_PICTURE_PX = 120


def is_tracker_url(url: str) -> bool:
    """Whether `url` is a known open-tracking pixel's address."""
    return bool(_TRACKERS.match(url.strip()))


def is_pixel_size(size: str | None) -> bool:
    """Whether an image's declared width or height ("1", "0px") makes it a pixel."""
    return size is not None and size.strip().lower().removesuffix("px").strip() in _PIXEL_SIZES


def is_icon_size(width: str | int | None, height: str | int | None = None) -> bool:
    """Whether a declared size (pixels; None or "" for not given) is too small
    for a post's picture: under MIN_PICTURE_PX either way, or a pixel."""
    for size in (width, height):
        text = str(size).strip().lower().removesuffix("px").strip() if size is not None else ""
        try:
            if text and float(text) < MIN_PICTURE_PX:
                return True
        except ValueError:
            continue  # "auto", "100%": says nothing about the image itself
    return False


def picture_url(url: str | None) -> str:
    """`url` if it may be shown as a post's picture in an email: an https
    address that is not a known tracker; else "".

    Plain http is refused: mail clients warn about or block it, and it would
    tell anyone on the reader's network what they read.
    """
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() != "https" or not parts.hostname or is_tracker_url(url):
        return ""
    return url

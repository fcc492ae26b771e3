"""Keeping a digest to the recipient's reading time: what each story costs, estimated.

Reading time is words at `words_per_minute` (238, the average adult silent
reading speed for non-fiction: Brysbaert 2019), every word the text
version shows counted (`digests.fit` counts the finished digest exactly).
Here, for choosing, an entry costs the words its post decides (its number
and headline, author and time, excerpt, counts, link label and URL) plus
`scan_seconds` for those it does not (its source's name and network,
estimated by the caller); an "also" headline likewise. Long posts are shown
as an excerpt with a link, so one long blog post never eats the whole budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from aggregator.domain.post import Post
from digests.wording import count_words, engagement_phrase, headline_of

WORDS_PER_MINUTE = 238
# Seconds for the words of an entry its post does not decide (its source's
# name and network), when the caller does not estimate them.
SCAN_SECONDS_PER_ENTRY = 2
# Likewise for an "also worth a look" headline: its source's name.
HEADLINE_SECONDS = 1
# Words of an entry's byline and links a post decides beyond its author's
# name: the separator and clock ("· 4:30 AM"), the separator before the
# author, "Post on <network>:" when the entry links a page the post shares.
_CLOCK_WORDS, _AUTHOR_SEPARATOR_WORDS, _POST_LINK_WORDS = 3, 1, 4
# A post longer than FULL_TEXT_MAX_WORDS is cut to EXCERPT_WORDS: the slack
# between the two keeps a post from being cut by a mere handful of words.
EXCERPT_WORDS = 70
FULL_TEXT_MAX_WORDS = 90
# Text with few spaces (long URLs, scripts without spaces) is cut by length.
EXCERPT_MAX_CHARS = 600
ELLIPSIS = "\u2026"

# Size estimates for the HTML email, measured on the template with inlined
# CSS (an entry's markup is about 1,400 bytes, a headline's 400); text
# counts a quarter extra for escaping and multi-byte characters.
ENTRY_BYTES = 1600
HEADLINE_BYTES = 500
SHARER_BYTES = 60
# A post's own HTML is shown only up to this many characters.
MAX_HTML_CHARS = 4000

_WORD = re.compile(r"\S+")
# Punctuation that reads badly right before an ellipsis.
_DANGLING = " \t\n,;:-\u2013\u2014"


@dataclass(frozen=True, slots=True)
class ShownPost:
    """How much of a post a digest shows, and what that costs in reading time.

    `excerpt` is the plain text shown (empty for a headline); `is_excerpt`
    says it was cut, so the reader needs the link for the rest;
    `reading_seconds` is the estimated time to take in what is shown.
    """

    post: Post
    excerpt: str
    reading_seconds: int
    is_excerpt: bool


def reading_seconds(text: str, words_per_minute: int = WORDS_PER_MINUTE) -> int:
    """Seconds to read `text` at `words_per_minute`, rounded up (0 for no words).

    Raises ValueError if `words_per_minute` is not positive.
    """
    if words_per_minute <= 0:
        raise ValueError(f"words_per_minute must be positive, not {words_per_minute}")
    words = len(text.split())
    return math.ceil(words * 60 / words_per_minute)


def make_excerpt(text: str, max_words: int = EXCERPT_WORDS) -> tuple[str, bool]:
    """The text to show for a post, and whether it was cut.

    Text up to FULL_TEXT_MAX_WORDS words (and EXCERPT_MAX_CHARS characters)
    is shown whole. Longer text keeps its first `max_words` words, cut at a
    word boundary, with an ellipsis.
    """
    text = text.strip()
    words = list(_WORD.finditer(text))
    if len(words) <= max(FULL_TEXT_MAX_WORDS, max_words) and len(text) <= EXCERPT_MAX_CHARS:
        return text, False
    end = words[min(max_words, len(words)) - 1].end()
    cut = text[:end]
    if len(cut) > EXCERPT_MAX_CHARS:
        space = cut.rfind(" ", 0, EXCERPT_MAX_CHARS)
        cut = cut[: space if space > 0 else EXCERPT_MAX_CHARS]
    return cut.rstrip(_DANGLING) + ELLIPSIS, True


def _author_words(post: Post) -> int:
    return count_words(post.author) + _AUTHOR_SEPARATOR_WORDS if post.author else 0


def entry_words(post: Post, excerpt: str, is_excerpt: bool) -> int:
    """The words of the post's entry that the post decides (see the module docstring)."""
    headline = headline_of(post)
    words = 1 + count_words(headline) + _author_words(post) + _CLOCK_WORDS
    if excerpt != headline:
        words += count_words(excerpt)
    words += count_words(engagement_phrase(post.engagement))
    if post.url:  # "Read the rest:" or "Original:", and the URL
        words += (3 if is_excerpt else 1) + 1
    if not post.title and post.links:  # likely a shared page: "Post on X:" and the URL
        words += _POST_LINK_WORDS
    return words


def as_entry(
    post: Post,
    words_per_minute: int = WORDS_PER_MINUTE,
    scan_seconds: int = SCAN_SECONDS_PER_ENTRY,
) -> ShownPost:
    """The post as a full entry: the seconds of its words plus `scan_seconds`."""
    if words_per_minute <= 0:
        raise ValueError(f"words_per_minute must be positive, not {words_per_minute}")
    excerpt, is_excerpt = make_excerpt(post.text)
    words = entry_words(post, excerpt, is_excerpt)
    seconds = scan_seconds + round(words * 60 / words_per_minute)
    return ShownPost(post, excerpt, seconds, is_excerpt)


def as_headline(
    post: Post, seconds: int = HEADLINE_SECONDS, words_per_minute: int = WORDS_PER_MINUTE
) -> ShownPost:
    """The post as an "also worth a look" headline, no excerpt: the seconds of
    "- headline (... · author)" and its URL, plus `seconds`."""
    words = 1 + count_words(headline_of(post)) + _author_words(post) + (1 if post.url else 0)
    return ShownPost(post, "", seconds + round(words * 60 / words_per_minute), is_excerpt=False)


def shows_html(shown: ShownPost) -> bool:
    """Whether the entry shows the post's own (sanitised) HTML rather than its excerpt.

    Only for a post shown whole whose markup is small: a short post with a
    huge table or inline data would break the email's size limit.
    """
    return (
        bool(shown.excerpt) and not shown.is_excerpt and 0 < len(shown.post.html) <= MAX_HTML_CHARS
    )


def html_bytes(shown: ShownPost, sharer_count: int = 1) -> int:
    """An upper estimate of what the entry adds to the HTML email, in bytes."""
    if not shown.excerpt:
        head = shown.post.title or shown.post.text[:200]
        return HEADLINE_BYTES + len(f"{head}{shown.post.url}".encode()) * 5 // 4
    body = shown.post.html if shows_html(shown) else shown.excerpt
    text = f"{shown.post.title or ''}{body}{shown.post.url}{shown.post.image_url or ''}"
    return ENTRY_BYTES + SHARER_BYTES * sharer_count + len(text.encode()) * 5 // 4

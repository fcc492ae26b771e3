"""Recognising the posts a teacher never wants first: giveaways, crypto, follow-for-follow.

These are demotions, not filters: a false positive ("a giveaway of my
lesson plans") sinks down the digest (`digests.rank`) instead of
vanishing. Muting is the recipient's own filter (`digests.select`).
The signals are a pure function of the post. Searching every pattern
through a long text is costly and a post is in the digest of everyone
following its source, so a batch of digests works them out once per text
(`digests.memo.DigestMemo`).
"""

from __future__ import annotations

import re

from aggregator.domain.post import Post

# More hashtags than this, or hashtags making up more than half the words,
# is a post written for search rather than for readers.
MAX_HASHTAGS = 6
HASHTAG_SHARE = 0.5

_PATTERNS = (
    (
        "giveaway",
        r"give-?aways?|sweepstakes?|enter\s+to\s+win|win\s+a\s+free|"
        r"free\s+gift\s+cards?|tag\s+\d+\s+friends|dm\s+(me\s+)?to\s+claim",
    ),
    (
        "crypto",
        r"crypto(currency|currencies)?|bitcoin|btc|ethereum|eth|nfts?|airdrops?|"
        r"web3|memecoins?|solana|100x|pump\s+and\s+dump",
    ),
    (
        "follow-for-follow",
        r"follow\s*(4|for)\s*follow|f4f|follow\s*back|followback|"
        r"#?teacherfollow(train)?|follow\s+train",
    ),
)
_COMPILED = tuple(
    (reason, re.compile(r"(?<![\w])#?(?:" + pattern + r")(?![\w])", re.IGNORECASE))
    for reason, pattern in _PATTERNS
)
# Any of them: most posts match none, and one search says so.
_ANY = re.compile(
    r"(?<![\w])#?(?:" + "|".join(pattern for _, pattern in _PATTERNS) + r")(?![\w])",
    re.IGNORECASE,
)
_HASHTAG = re.compile(r"(?<![\w#])#\w+")


def _is_hashtag_stuffed(text: str, hashtags: tuple[str, ...]) -> bool:
    """Whether hashtags outweigh the words: too many, or most of the post."""
    words = text.split()
    tags = {tag.lower() for tag in _HASHTAG.findall(text)} | {tag.lower() for tag in hashtags}
    in_text = sum(1 for word in words if word.startswith("#"))
    return len(tags) > MAX_HASHTAGS or (len(words) >= 4 and in_text / len(words) > HASHTAG_SHARE)


def spam_signals(post: Post) -> tuple[str, ...]:
    """Why `post` looks like spam: any of "giveaway", "crypto",
    "follow-for-follow", "hashtag-stuffed", in that order; () when clean."""
    return spam_signals_of(post.title or "", post.text, post.hashtags)


def spam_signals_of(title: str, text: str, hashtags: tuple[str, ...]) -> tuple[str, ...]:
    """The spam signals of a post's title, text and hashtags (see `spam_signals`)."""
    both = f"{title}\n{text}"
    found = (
        [reason for reason, pattern in _COMPILED if pattern.search(both)]
        if _ANY.search(both)
        else []
    )
    if _is_hashtag_stuffed(text, hashtags):
        found.append("hashtag-stuffed")
    return tuple(found)

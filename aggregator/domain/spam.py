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

# Each signal's alternatives, each with a word it cannot match without (in
# lower case: see `_may_find_any`).
_PATTERNS = (
    (
        "giveaway",
        (
            ("give", r"give-?aways?"),
            ("sweepstake", r"sweepstakes?"),
            ("enter", r"enter\s+to\s+win"),
            ("win", r"win\s+a\s+free"),
            ("gift", r"free\s+gift\s+cards?"),
            ("friends", r"tag\s+\d+\s+friends"),
            ("dm", r"dm\s+(me\s+)?to\s+claim"),
        ),
    ),
    (
        "crypto",
        (
            ("crypto", r"crypto(currency|currencies)?"),
            ("bitcoin", r"bitcoin"),
            ("btc", r"btc"),
            ("eth", r"ethereum"),
            ("eth", r"eth"),
            ("nft", r"nfts?"),
            ("airdrop", r"airdrops?"),
            ("web3", r"web3"),
            ("memecoin", r"memecoins?"),
            ("solana", r"solana"),
            ("100x", r"100x"),
            ("pump", r"pump\s+and\s+dump"),
        ),
    ),
    (
        "follow-for-follow",
        (
            ("follow", r"follow\s*(4|for)\s*follow"),
            ("f4f", r"f4f"),
            ("follow", r"follow\s*back"),
            ("follow", r"followback"),
            ("follow", r"#?teacherfollow(train)?"),
            ("follow", r"follow\s+train"),
        ),
    ),
)
_COMPILED = tuple(
    (
        reason,
        re.compile(
            r"(?<![\w])#?(?:" + "|".join(a for _, a in alternatives) + r")(?![\w])",
            re.IGNORECASE,
        ),
    )
    for reason, alternatives in _PATTERNS
)
# Any of them: most posts match none, and one search says so.
_ANY = re.compile(
    r"(?<![\w])#?(?:"
    + "|".join(a for _, alternatives in _PATTERNS for _, a in alternatives)
    + r")(?![\w])",
    re.IGNORECASE,
)
# Each clue word, with its alternatives as a case-sensitive pattern for a text
# in lower case.
_CLUES = tuple(
    (
        word,
        re.compile(
            "(?:"
            + "|".join(a for _, alts in _PATTERNS for w, a in alts if w == word)
            + r")(?![\w])"
        ),
    )
    for word in dict.fromkeys(w for _, alts in _PATTERNS for w, _ in alts)
)
# The characters re.IGNORECASE matches with an ASCII letter but str.lower()
# does not turn into it ("İ" becomes "i" and a combining dot, "ı" and "ſ"
# stay as they are).
_OTHER_CASES = ("\u0130", "\u0131", "\u017f")
_HASHTAG = re.compile(r"(?<![\w#])#\w+")


def _may_find_any(text: str) -> bool:
    """Whether `_ANY` may find something in `text`: False only when it cannot.

    Searching `_ANY` tries a case-insensitive alternation at every position
    of the text. Put in lower case, the text holds a match of one of its
    alternatives wherever `_ANY` would match, and each alternative holds its
    clue word: a substring search for each word, then a search of the few
    alternatives of the words found, costs a fraction of that. Lower case
    keeps the matches because, but for `_OTHER_CASES`, every character that
    re.IGNORECASE matches with a letter of the patterns becomes that letter,
    and a space, a digit or a character that is not a word character stays
    one (tests/domain/test_spam.py checks every character).
    """
    if not text.isascii() and any(other in text for other in _OTHER_CASES):
        return True
    lowered = text.lower()
    return any(word in lowered and clue.search(lowered) for word, clue in _CLUES)


def _is_hashtag_stuffed(text: str, hashtags: tuple[str, ...]) -> bool:
    """Whether hashtags outweigh the words: too many, or most of the post."""
    tags = {tag.lower() for tag in hashtags}
    if "#" not in text:  # no hashtag in the words: only the post's own count
        return len(tags) > MAX_HASHTAGS
    words = text.split()
    tags |= {tag.lower() for tag in _HASHTAG.findall(text)}
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
        if _may_find_any(both) and _ANY.search(both)
        else []
    )
    if _is_hashtag_stuffed(text, hashtags):
        found.append("hashtag-stuffed")
    return tuple(found)

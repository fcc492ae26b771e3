"""What a post is about, as keys: its story keys and the signature of its text.

Two posts are one story when they share a story key (a canonical URL
naming one thing: the post itself, or an article, post or video it links)
or when their texts are near-identical once links, mentions and hashtags
are set aside. The text signature lets `digests.cluster` find the
near-identical candidates without comparing every pair: a digest of the
cleaned text (exact copies share it) and locality-sensitive hashes of its
word set (MinHash, 5 bands of 3: texts sharing 80% of their words share a
band 97% of the time, texts sharing 20% 4% of the time).

These are pure functions of a post. The canonical URL and story keys are
cheap and indexed: they are worked out once when a post is stored
(`with_keys`) and read back with it; a post that has not been through the
store has them worked out on demand, and a change to their rules needs a
migration that recomputes them for the posts already stored, as revision
0004 does. The text signature costs far more and only a digest needs it:
it is worked out when a digest is built, once per text for a whole batch
of digests (`digests.memo.DigestMemo`). Hashes are CRC-32 and BLAKE2, not
`hash()`, so they are the same in every process.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from aggregator.domain.canonical import canonical_url
from aggregator.domain.post import Post

# Texts shorter than this (after clean-up) are too generic to match by text:
# "Great post!" from two people is not one story.
MIN_TEXT_WORDS = 6
# Cross-posts agree from their first words: longer texts are compared on
# this many, which bounds the cost of a comparison.
MATCH_WORDS = 300
# Characters of text first cleaned in search of MATCH_WORDS words, so a
# long article is not cleaned whole for words that are then dropped.
_MATCH_CHARS = 12 * MATCH_WORDS
BANDS, ROWS = 5, 3
# A signature is the text's digest, its number of words (at most
# MATCH_WORDS), then one hash per band, in hex digits.
DIGEST_DIGITS, COUNT_DIGITS, BAND_DIGITS = 32, 4, 16
_PRIME = (1 << 61) - 1
_SEEDS = tuple((2 * k + 1) * 0x9E3779B97F4A7C15 % _PRIME for k in range(BANDS * ROWS))
_ROW_SEEDS = tuple(enumerate(_SEEDS))
# A word's MinHash values under this are its low ones: of a text's 70 or so
# words, some 4 have a low value in a given row, and its least value in the
# row is the least of those (see `_least_values`).
_LOW = _PRIME >> 4
_BAND_ROWS = struct.Struct(f">{ROWS}Q")

# A word's MinHash values, then its low ones as (row, value) pairs.
WordHashes = tuple[tuple[int, ...], tuple[tuple[int, int], ...]]

_STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have i in is it its my of on or our so "
    "that the their this to was we were what when with you your".split()
)
_NOISE = re.compile(r"https?://\S+|(?<!\w)[@#][\w.@-]+")
_WORD = re.compile(r"\w+")
# Paths of pages that are not a story: a site's home, a tag or a profile.
_NOT_A_STORY = re.compile(
    r"^/?$|^/(hashtag|tags?|search|explore)(/|$)|^/@[^/]+$|^/profile/[^/]+$", re.IGNORECASE
)
# On these hosts a one-segment path is a profile, not a post.
_PROFILE_HOSTS = frozenset({"twitter.com", "facebook.com", "instagram.com", "bsky.app"})


def page_url(url: str, declared: str = "") -> str:
    """The canonical URL of a post's own page: of the URL its source declared
    canonical when there is one, else of `url`; "" when neither is http(s)."""
    return (canonical_url(declared) if declared else "") or canonical_url(url)


def story_keys_of(urls: Iterable[str]) -> tuple[str, ...]:
    """The canonical URLs of `urls` that name one thing, sorted, each once.

    Links to a site's home page, a hashtag, a search or a profile are left
    out: two posts linking #edchat are not one story.
    """
    return _story_keys({canonical_url(url) for url in urls if url})


def _story_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """The canonical URLs among `keys` that name one thing, sorted, each once."""
    return tuple(sorted({key for key in keys if key and is_story_url(key)}))


def is_story_url(key: str) -> bool:
    """Whether a canonical URL names one thing, not a home page, tag, search or profile."""
    parts = urlsplit(key)
    if _NOT_A_STORY.match(parts.path):
        return False
    return not (parts.hostname in _PROFILE_HOSTS and parts.path.count("/") == 1)


def clean_words(title: str, text: str) -> list[str]:
    """The first MATCH_WORDS words of a title and text: lower case, without
    links, mentions or hashtags."""
    if len(text) > _MATCH_CHARS:
        # The text up to its last whitespace before _MATCH_CHARS: no link,
        # mention or word spans whitespace, so the words of that head are
        # the first words of the whole text.
        head = text[:_MATCH_CHARS].rsplit(None, 1)
        if len(head) == 2:
            words = _clean(f"{title} {head[0]}")
            if len(words) >= MATCH_WORDS:
                return words[:MATCH_WORDS]
    return _clean(f"{title} {text}")[:MATCH_WORDS]


def _clean(text: str) -> list[str]:
    # Every match of _NOISE holds one of these; most texts hold none.
    if "://" in text or "@" in text or "#" in text:
        text = _NOISE.sub(" ", text)
    return _WORD.findall(text.lower())


def word_minhashes(word_hash: int) -> tuple[int, ...]:
    """One word's MinHash values, by the CRC-32 of its UTF-8: one per row of
    every band, BANDS * ROWS in all. A text's values are the least of its words'."""
    return tuple([(seed * word_hash + k) % _PRIME for k, seed in _ROW_SEEDS])


def word_hashes(word: str) -> WordHashes:
    """A word's MinHash values (`word_minhashes`) and its low ones, by row."""
    values = word_minhashes(zlib.crc32(word.encode()))
    return values, tuple((row, value) for row, value in enumerate(values) if value < _LOW)


def text_signature_of(
    title: str, text: str, hashes: Callable[[str], WordHashes] = word_hashes
) -> str:
    """The signature of a post's cleaned text; "" when too short to match by text.

    DIGEST_DIGITS hex digits of its BLAKE2 digest, COUNT_DIGITS of its
    number of words, then BAND_DIGITS per band: texts sharing a band's
    digits are candidates for a comparison. `hashes` gives a word's
    MinHash values (`word_hashes`, or a memo of them: most of a day's texts
    share most of their words).
    """
    return signature_of_words(clean_words(title, text), hashes)


def signature_of_words(
    words: Sequence[str], hashes: Callable[[str], WordHashes] = word_hashes
) -> str:
    """`text_signature_of` a text whose cleaned words (`clean_words`) are `words`."""
    if len(words) < MIN_TEXT_WORDS:
        return ""
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=DIGEST_DIGITS // 2)
    count = f"{len(words):0{COUNT_DIGITS}x}"
    return digest.hexdigest() + count + "".join(_band_hashes(words, hashes))


def _band_hashes(words: Sequence[str], hashes: Callable[[str], WordHashes]) -> list[str]:
    """One hash per band of the word set's MinHash: similar sets very likely share one.

    Stop words are left out: every text has them, so bands made of them
    would bring unrelated texts together for a comparison. A text of stop
    words alone has the values of the word hash 0.
    """
    found = list(map(hashes, set(words) - _STOP_WORDS))
    mins = _least_values(found) if found else list(word_minhashes(0))
    return [
        hashlib.blake2b(
            _BAND_ROWS.pack(*mins[band * ROWS : (band + 1) * ROWS]), digest_size=BAND_DIGITS // 2
        ).hexdigest()
        for band in range(BANDS)
    ]


def _least_values(found: Sequence[WordHashes]) -> list[int]:
    """The least MinHash value in each row of the words whose hashes are `found` (some).

    Any other value is at least _LOW, so a row's least value is the least of
    its low ones when it has some: a loop over those few costs less than
    comparing every word's value in every row. A row without (a text of few
    words) is compared in full.
    """
    mins = [_LOW] * (BANDS * ROWS)
    for _, lows in found:
        for row, value in lows:
            if value < mins[row]:
                mins[row] = value
    for row, least in enumerate(mins):
        if least == _LOW:  # no value under it: the least may be it or over it
            mins[row] = min(values[row] for values, _ in found)
    return mins


def signature_digest(signature: str) -> str:
    """The digest part of a text signature: equal for texts that clean up the same."""
    return signature[:DIGEST_DIGITS]


def signature_words(signature: str) -> int:
    """How many words (at most MATCH_WORDS) a text signature was made from; 0 for none."""
    return int(signature[DIGEST_DIGITS : DIGEST_DIGITS + COUNT_DIGITS], 16) if signature else 0


def signature_bands(signature: str) -> list[tuple[int, str]]:
    """The (band, hash) buckets of a text signature; none for a text too short."""
    if not signature:
        return []
    start = DIGEST_DIGITS + COUNT_DIGITS
    return [
        (band, signature[start + band * BAND_DIGITS : start + (band + 1) * BAND_DIGITS])
        for band in range(BANDS)
    ]


def story_keys(post: Post) -> tuple[str, ...]:
    """The post's story keys: as stored with it, else worked out from its URLs."""
    if post.story_keys is not None:
        return post.story_keys
    return story_keys_of((post.canonical_url, post.url, *post.links))


def text_signature(post: Post) -> str:
    """The post's text signature, worked out from its title and text."""
    return text_signature_of(post.title or "", post.text)


@dataclass(frozen=True, slots=True)
class PostKeys:
    """What is worked out from a post when it is stored (see the `Post` fields of these names)."""

    canonical_url: str
    story_keys: tuple[str, ...]


def keys_of(*, url: str, declared_url: str, links: Iterable[str]) -> PostKeys:
    """The keys of a post given as the columns it is stored in: `declared_url`
    is the URL its source declared canonical ("" for none).

    As `page_url(url, declared_url)` and `story_keys_of((declared_url, url,
    *links))`, each URL canonicalised once: this runs for every post stored.
    """
    canonical = {each: canonical_url(each) for each in (declared_url, url, *links) if each}
    return PostKeys(
        canonical_url=canonical.get(declared_url, "") or canonical.get(url, ""),
        story_keys=_story_keys(canonical.values()),
    )


def with_keys(post: Post) -> Post:
    """`post` with its canonical URL and story keys worked out from its URLs
    (what the store keeps with it)."""
    keys = keys_of(url=post.url, declared_url=post.canonical_url, links=post.links)
    return replace(post, canonical_url=keys.canonical_url, story_keys=keys.story_keys)

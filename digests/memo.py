"""What a batch of digests works out once: the one memo, owned by its caller.

A post is in the digest of everyone following its source, and the same
two posts meet again in the digest of everyone following both sources.
What is costly to work out about them depends on their texts alone: a
post's text signature (`aggregator.domain.story`), its spam signals
(`aggregator.domain.spam`) and whether two texts are near-identical
(`digests.cluster`). Most of a day's texts share most of their words,
so the MinHash values of each word are remembered too. All a digest needs
of one post's words is kept together, as its `TextFacts`: its signature
split into the parts clustering compares, its spam signals, its cleaned
words and their sets, and its text case-folded for mute and boost words.
So a batch works each out once per post, and a recipient's digest is a
cheap selection of what is known. Likewise what depends on one source's
posts alone, the same in the digest of everyone following it (its
`digests.sources.SourceWindow`: its posts in a window, judged, scored as
stories of their own, sorted); the links of a post shown; and what each
post of the pool may be joined to. Those are remembered by the identity
of the posts, and each entry holds the posts it was made from, so that
an id is never another post's while remembered. A caller building many
digests (a batch of sends) makes one `DigestMemo` and hands it to each;
the digests are the same with it or without it, only faster.
Nothing is kept in module state: the memo lives as long as its caller
keeps it, and each of its tables forgets its least recently used entries
past its size.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from aggregator.domain.post import Post
from aggregator.domain.spam import spam_signals_of
from aggregator.domain.story import (
    clean_words,
    signature_bands,
    signature_digest,
    signature_of_words,
    signature_words,
    word_hashes,
)
from digests.engagement import SourceStanding
from digests.links import EntryLinks, entry_links

# Entries each table holds: a signature is about 300 bytes with its key, a
# verdict or a post's spam signals less; a day's posts of a large network fit.
MEMO_SIZE = 50_000
# Words given a bit of their own; past that a new vocabulary is started (a
# worker's memo lives for weeks, and numbers and names are words too).
VOCABULARY_SIZE = 500_000
# Verdicts on pairs of texts: a digest of 1,000 posts asks about 2,000, and
# a pair comes back in the digest of everyone following both its sources.
# About 150 bytes each.
VERDICT_MEMO_SIZE = 400_000
# Words whose MinHash values are remembered, about 900 bytes each.
WORD_MEMO_SIZE = 20_000
# Sources' windows (a window of a busy source is some kilobytes): a
# batch's sources, each in a few windows; and their one-post stories' scores.
WINDOW_MEMO_SIZE = 2_000
# Links of the posts shown: a batch's best few hundred, about 300 bytes each.
LINKS_MEMO_SIZE = 20_000

if TYPE_CHECKING:  # those modules work with the facts this module keeps
    from digests.cluster import Reach
    from digests.nearby import NearPairs
    from digests.rank import ScoreParts, SortKey
    from digests.sources import SourceWindow

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A mapping of at most `size` entries; the least recently used is forgotten first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a memo holds at least one entry, not {size}")
        self.size = size
        self.entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, key: K) -> V | None:
        """The value remembered for `key` (now the most recently used), or None."""
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        """Remember `value` for `key`, forgetting the least recently used past the size."""
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value remembered for `key`, else `make()`'s, then remembered."""
        try:
            value = self.entries[key]
        except KeyError:
            value = self.entries[key] = make()
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
            return value
        self.entries.move_to_end(key)
        return value


def word_trigrams(words: Sequence[str]) -> frozenset[tuple[str, ...]]:
    """The word trigrams of `words` (one, shorter, for fewer than three words)."""
    return frozenset(tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2)))


class TextFacts:
    """What a digest needs of one post's title, text and hashtags.

    `signature` is its text signature (`aggregator.domain.story`; "" for a
    text too short to match by text) and `digest`, `count` and `bands` its
    parts, each band as one number; `spam` its spam signals; `folded` its
    title and text case-folded, for a first test of mute and boost words,
    and `terms` what was found of them (`digests.select`), by the pattern
    of the phrases looked for. `size` is how many distinct words it has
    and `mask` which, one bit per word of `vocabulary` (the memo's when they
    were made): two texts' common words are counted without a set of either. The words themselves
    are cleaned again when asked for (only texts near-identical by those
    counts need them): kept, a day's would take hundreds of megabytes.
    """

    __slots__ = (
        "_text",
        "_title",
        "bands",
        "count",
        "digest",
        "folded",
        "mask",
        "signature",
        "size",
        "spam",
        "terms",
        "vocabulary",
    )

    def __init__(
        self,
        post: Post,
        signature: str,
        spam: tuple[str, ...],
        mask: int,
        vocabulary: dict[str, int],
    ) -> None:
        self._title, self._text = post.title or "", post.text
        self.signature = signature
        self.digest = signature_digest(signature) if signature else ""
        self.count = signature_words(signature)
        bands = signature_bands(signature)
        self.bands = tuple(band << 64 | int(value, 16) for band, value in bands)
        self.spam = spam
        self.folded = f"{self._title}\n{self._text}".casefold()
        self.mask, self.size, self.vocabulary = mask, mask.bit_count(), vocabulary
        self.terms: dict[str, str | None] = {}

    def words(self) -> list[str]:
        """The cleaned words the signature was made from (`story.clean_words`)."""
        return clean_words(self._title, self._text)


class DigestMemo:
    """`TextFacts` by post, at most `size` of them (the first made are
    forgotten first); near-identical verdicts by
    pair of texts, at most `verdict_size`; the MinHash values of at most
    `word_size` words; and the vocabulary of the texts seen, each word's
    bit in `TextFacts.mask` (a batch's texts have some tens of thousands),
    started anew past `vocabulary_size` words."""

    def __init__(
        self,
        size: int = MEMO_SIZE,
        word_size: int = WORD_MEMO_SIZE,
        verdict_size: int = VERDICT_MEMO_SIZE,
        vocabulary_size: int = VOCABULARY_SIZE,
    ) -> None:
        # Oldest first: a batch's posts fit, and a hit costs one lookup.
        self.facts: dict[Hashable, TextFacts] = {}
        self.size = size
        self.verdicts: Recent[tuple[str, str], bool] = Recent(verdict_size)
        self.vocabulary: dict[str, int] = {}
        self.vocabulary_size = vocabulary_size
        # The near-identical pairs of the batch's pool of posts, once known,
        # and the sources each of its posts may be joined to (`digests.cluster`).
        self.pool: NearPairs | None = None
        self.reach: tuple[NearPairs, dict[int, Reach]] | None = None
        # Each source's part of a digest (`digests.sources`), by the ids of
        # the tuple of its posts and of the pool, the window and the mute
        # words; each entry holds that tuple and pool, so that their ids
        # cannot be another's.
        self.windows: Recent[tuple[int, int, datetime, datetime, str | None], SourceWindow] = (
            Recent(WINDOW_MEMO_SIZE)
        )
        # One-post stories' sort keys and scores (`digests.rank`), by the id
        # of their source's standing and the time scored at, then of their
        # post; each entry holds the standing, which holds the posts.
        self.lone_scores: Recent[
            tuple[int, datetime],
            tuple[SourceStanding | None, dict[int, tuple[SortKey, ScoreParts]]],
        ] = Recent(WINDOW_MEMO_SIZE)
        # The links shown for a post (`digests.links.entry_links`), by its id;
        # each entry holds the post, so that its id cannot be another's.
        self.links: Recent[int, tuple[Post, EntryLinks]] = Recent(LINKS_MEMO_SIZE)
        # The standard library's LRU wrapper: this one is looked up for every
        # word of every text, and its C implementation is the fastest.
        self.minhashes = functools.lru_cache(maxsize=word_size)(word_hashes)

    def entry_links(self, post: Post) -> EntryLinks:
        """`digests.links.entry_links(post)`, remembered: a post shown in one
        digest of a batch is shown in many (each URL is parsed several times)."""
        found = self.links.find(id(post))
        if found is None:
            found = self.links.put(id(post), (post, entry_links(post)))
        return found[1]

    def text_signature(self, post: Post) -> str:
        """The post's text signature (`aggregator.domain.story.text_signature_of`)."""
        return self.facts_of(post).signature

    def spam_signals(self, post: Post) -> tuple[str, ...]:
        """Why the post looks like spam (`aggregator.domain.spam.spam_signals`)."""
        return self.facts_of(post).spam

    def facts_of(self, post: Post) -> TextFacts:
        """The post's `TextFacts`, remembered by what they are a function of:
        its content hash (which fingerprints what its source sent), else its
        title, text and hashtags."""
        key = post.content_hash or (post.title, post.text, post.hashtags)
        found = self.facts.get(key)
        if found is None:
            title = post.title or ""
            words = clean_words(title, post.text)
            spam = spam_signals_of(title, post.text, post.hashtags)
            signature = signature_of_words(words, self.minhashes)
            mask = self._mask(words)
            found = self.facts[key] = TextFacts(post, signature, spam, mask, self.vocabulary)
            if len(self.facts) > self.size:
                del self.facts[next(iter(self.facts))]
        return found

    def _mask(self, words: Iterable[str]) -> int:
        """One bit per distinct word of `words`, by its place in the vocabulary."""
        if len(self.vocabulary) >= self.vocabulary_size:
            self.vocabulary = {}  # facts made before keep the one their masks use
        bits, vocabulary = 0, self.vocabulary
        for word in set(words):
            bit = vocabulary.get(word)
            if bit is None:
                bit = vocabulary[word] = len(vocabulary)
            bits |= 1 << bit
        return bits

    def decide(self, a: str, b: str, compare: Callable[[], bool]) -> bool:
        """The verdict on texts with digests `a` and `b`: remembered, or `compare()`d now."""
        key = (a, b) if a <= b else (b, a)
        found = self.verdicts.find(key)
        return self.verdicts.put(key, compare()) if found is None else found

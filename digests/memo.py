"""What a batch of digests works out once: the one memo, owned by its caller.

A post is in the digest of everyone following its source, and the same
two posts meet again in the digest of everyone following both sources.
What is costly to work out about them depends on their texts alone: a
post's text signature (`aggregator.domain.story`), its spam signals
(`aggregator.domain.spam`) and whether two texts are near-identical
(`digests.cluster`). Most of a day's texts share most of their words,
so the MinHash values of each word are remembered too. A caller building
many digests (a batch of sends) makes one `DigestMemo` and hands it to
each; the digests are the same with it or without it, only faster.
Nothing is kept in module state: the memo lives as long as its caller
keeps it, and each of its tables forgets its least recently used entries
past its size.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from aggregator.domain.post import Post
from aggregator.domain.spam import spam_signals_of
from aggregator.domain.story import text_signature_of, word_minhashes

# Entries each table holds: a signature is about 300 bytes with its key, a
# verdict or a post's spam signals less; a day's posts of a large network fit.
MEMO_SIZE = 50_000
# Words whose MinHash values are remembered, about 700 bytes each.
WORD_MEMO_SIZE = 20_000

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


def _text_key(post: Post) -> Hashable:
    """What a post's text signature is a function of: its content hash
    (which fingerprints what its source sent), else its title and text."""
    return post.content_hash or (post.title, post.text)


def _spam_key(post: Post) -> Hashable:
    """What a post's spam signals are a function of: as `_text_key`, and its hashtags."""
    return post.content_hash or (post.title, post.text, post.hashtags)


class DigestMemo:
    """Text signatures and spam signals by post, and near-identical verdicts by
    pair of texts, each table holding at most `size` entries; the MinHash
    values of at most `word_size` words."""

    def __init__(self, size: int = MEMO_SIZE, word_size: int = WORD_MEMO_SIZE) -> None:
        self.signatures: Recent[Hashable, str] = Recent(size)
        self.spam: Recent[Hashable, tuple[str, ...]] = Recent(size)
        self.verdicts: Recent[tuple[str, str], bool] = Recent(size)
        # The standard library's LRU wrapper: this one is looked up for every
        # word of every text, and its C implementation is the fastest.
        self.minhashes = functools.lru_cache(maxsize=word_size)(word_minhashes)

    def text_signature(self, post: Post) -> str:
        """The post's text signature (`aggregator.domain.story.text_signature_of`)."""
        return self.signatures.get(
            _text_key(post),
            lambda: text_signature_of(post.title or "", post.text, self.minhashes),
        )

    def spam_signals(self, post: Post) -> tuple[str, ...]:
        """Why the post looks like spam (`aggregator.domain.spam.spam_signals`)."""
        return self.spam.get(
            _spam_key(post), lambda: spam_signals_of(post.title or "", post.text, post.hashtags)
        )

    def decide(self, a: str, b: str, compare: Callable[[], bool]) -> bool:
        """The verdict on texts with digests `a` and `b`: remembered, or `compare()`d now."""
        return self.verdicts.get((a, b) if a <= b else (b, a), compare)

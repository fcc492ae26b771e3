"""Near-identical texts: the test for two texts, and the pairs of a whole pool worked out once.

Two texts are near-identical (one announcement cross-posted to several
networks) when, once links, mentions and hashtags are set aside, they
share most of their words and say them in the same order (see the
constants). Candidates for the test are posts sharing a bucket, one band
hash of their text signatures (`aggregator.domain.story`); a bucket
holding more than MAX_BUCKET of a digest's posts is a band of common
words, not a set of copies, and is not compared.

A batch builds the digests of many recipients over one pool of posts
(`NearPairs`): every pair of texts sharing a bucket of the pool is tested
once, for all of them, and each digest keeps those pairs whose buckets
hold at most MAX_BUCKET of its own posts. A digest's stories are so the
same whoever else is in its batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from aggregator.domain.post import Post
from aggregator.domain.story import MIN_TEXT_WORDS
from digests.memo import DigestMemo, TextFacts, word_trigrams

# Up to SHORT_TEXT_WORDS words, texts match when SequenceMatcher's ratio
# reaches SHORT_TEXT_RATIO; longer ones when their word-trigram Jaccard
# similarity reaches LONG_TEXT_JACCARD.
SHORT_TEXT_WORDS = 40
SHORT_TEXT_RATIO = 0.95
LONG_TEXT_JACCARD = 0.75
# Near-identical texts share at least this much of their word sets (a
# necessary condition, checked before the costlier comparisons).
MIN_WORD_OVERLAP = 0.6
# A bucket this full is a band of very common words, not a set of copies:
# comparing all its pairs would cost O(n^2) for nothing. Exact copies are
# still joined, by their cleaned text as a key.
MAX_BUCKET = 64
# A pool's buckets up to this size have all their pairs tested once for the
# batch (a digest seeing a tenth of a pool sees about a tenth of a bucket);
# the few fuller ones are left to each digest, whose share of them is
# mostly over MAX_BUCKET anyway.
POOL_BUCKET = 1024


def may_match(count_a: int, count_b: int) -> bool:
    """Whether texts of these word counts could be near-identical at all:
    lengths too far apart cannot reach either threshold."""
    shorter, longer = (count_a, count_b) if count_a <= count_b else (count_b, count_a)
    return shorter >= MIN_TEXT_WORDS and shorter >= LONG_TEXT_JACCARD * longer


def is_near_identical(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two cleaned word lists say the same thing (see the module constants)."""
    if not may_match(len(a), len(b)):
        return False
    sa, sb = frozenset(a), frozenset(b)
    return _overlap(len(sa), len(sb), len(sa & sb)) and _same_wording(a, b)


def texts_match(a: TextFacts, b: TextFacts) -> bool:
    """Whether the texts of these facts are near-identical (as `is_near_identical`).

    Callers give the text of the smaller digest first: the similarity of
    short texts (`SequenceMatcher.ratio`) can depend on which comes first,
    and a pair of texts must have one verdict, whichever posts carry them.
    """
    if not may_match(a.count, b.count):
        return False
    if a.vocabulary is not b.vocabulary:  # made either side of a new vocabulary
        return is_near_identical(a.words(), b.words())
    return _share_enough(a, b) and _same_wording(a.words(), b.words())


def _share_enough(a: TextFacts, b: TextFacts) -> bool:
    """Whether the word sets of `a` and `b` share enough for near-identical
    texts (`_overlap`), as far as their masks tell: True when they cannot,
    made of different vocabularies."""
    if a.vocabulary is not b.vocabulary:
        return True
    return _overlap(a.size, b.size, (a.mask & b.mask).bit_count())


def _overlap(size_a: int, size_b: int, common: int) -> bool:
    """Whether word sets of these sizes with `common` words in common share
    enough for near-identical texts (a cheap, necessary test)."""
    return common >= MIN_WORD_OVERLAP * (size_a + size_b - common)


def _same_wording(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether cleaned words `a` and `b`, sharing enough words, say them alike."""
    if max(len(a), len(b)) <= SHORT_TEXT_WORDS:
        matcher = SequenceMatcher(None, " ".join(a), " ".join(b), autojunk=False)
        # The quick ratios are upper bounds of ratio(), at a fraction of its cost.
        return (
            matcher.real_quick_ratio() >= SHORT_TEXT_RATIO
            and matcher.quick_ratio() >= SHORT_TEXT_RATIO
            and matcher.ratio() >= SHORT_TEXT_RATIO
        )
    ta, tb = word_trigrams(a), word_trigrams(b)
    return len(ta & tb) / len(ta | tb) >= LONG_TEXT_JACCARD


class NearPairs:
    """The near-identical pairs of texts of a pool of posts, tested once.

    `partners` maps a text's digest to the digests of the texts near-identical
    to it (each pair once, under the smaller digest) with the buckets they
    share; `sizes` counts the pool's posts in each bucket; `full` holds the
    buckets over POOL_BUCKET, whose pairs were not tested, and `in_full` the
    digests of the texts in any of them. The pool's posts are held, so
    `covers` can tell them by identity.
    """

    def __init__(self, posts: Sequence[Post], memo: DigestMemo) -> None:
        self.posts = tuple(posts)
        self.ids = frozenset(map(id, self.posts))
        members: dict[int, dict[str, TextFacts]] = {}
        self.sizes: dict[int, int] = {}
        for post in self.posts:
            facts = memo.facts_of(post)
            for bucket in facts.bands:
                members.setdefault(bucket, {})[facts.digest] = facts
                self.sizes[bucket] = self.sizes.get(bucket, 0) + 1
        self.full = frozenset(b for b, size in self.sizes.items() if size > POOL_BUCKET)
        self.in_full = frozenset(d for b in self.full for d in members[b])
        self.partners: dict[str, list[tuple[str, frozenset[int]]]] = {}
        tested: set[tuple[str, str]] = set()
        for bucket, texts in members.items():
            if len(texts) > 1 and bucket not in self.full:
                self._test(texts.values(), tested)

    def _test(self, texts: Iterable[TextFacts], tested: set[tuple[str, str]]) -> None:
        """Test each pair of `texts` not tested yet (`texts_match`, the smaller
        digest first), adding the near-identical ones to `partners`.

        Most pairs of a full bucket cannot match, of lengths too far apart or
        sharing too few words, and their word counts and masks tell so. In
        order of length, the texts a text may match are the next ones up to
        the first too long for it, and the rest are not visited. The pairs
        found are added in the order of their digests, so `partners` is as if
        every pair had been tested in that order.
        """
        by_count = sorted(texts, key=lambda facts: (facts.count, facts.digest))
        found: dict[tuple[str, str], frozenset[int]] = {}
        for pos, a in enumerate(by_count):
            for b in by_count[pos + 1 :]:
                if not may_match(a.count, b.count):
                    break  # nor any longer text
                if not _share_enough(a, b):
                    continue  # no verdict but "no", in any bucket
                first, second = (a, b) if a.digest < b.digest else (b, a)
                pair = (first.digest, second.digest)
                if pair in tested:
                    continue
                tested.add(pair)
                if texts_match(first, second):
                    found[pair] = frozenset(a.bands) & frozenset(b.bands)
        for pair in sorted(found):
            self.partners.setdefault(pair[0], []).append((pair[1], found[pair]))

    def covers(self, posts: Sequence[Post]) -> bool:
        """Whether all of `posts` are posts of this pool."""
        ids = self.ids
        return all(id(post) in ids for post in posts)

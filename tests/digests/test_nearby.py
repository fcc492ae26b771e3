"""A pool's near-identical pairs: those of testing every pair of each bucket, in the same order."""

from __future__ import annotations

import random
from collections.abc import Sequence

from digest_factory import make_post
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.domain.post import Post
from digests.memo import VOCABULARY_SIZE, DigestMemo, TextFacts
from digests.nearby import POOL_BUCKET, NearPairs, may_match, texts_match

WORDS = (
    "lesson students rubric feedback inquiry phenomena retrieval practice exit ticket "
    "classroom reading writing science maths history project assessment formative"
).split()


def reference_partners(
    posts: Sequence[Post], memo: DigestMemo
) -> dict[str, list[tuple[str, frozenset[int]]]]:
    """Every pair of each bucket tested in the order of their digests, once."""
    members: dict[int, dict[str, TextFacts]] = {}
    for post in posts:
        facts = memo.facts_of(post)
        for bucket in facts.bands:
            members.setdefault(bucket, {})[facts.digest] = facts
    partners: dict[str, list[tuple[str, frozenset[int]]]] = {}
    tested: set[tuple[str, str]] = set()
    for texts in members.values():
        if len(texts) > POOL_BUCKET:
            continue
        ordered = sorted(texts.items())
        for pos, (digest_a, a) in enumerate(ordered):
            for digest_b, b in ordered[pos + 1 :]:
                if not may_match(a.count, b.count) or (digest_a, digest_b) in tested:
                    continue
                tested.add((digest_a, digest_b))
                if texts_match(a, b):
                    shared = frozenset(a.bands) & frozenset(b.bands)
                    partners.setdefault(digest_a, []).append((digest_b, shared))
    return partners


def _pool(seed: int, size: int) -> list[Post]:
    """Texts of a few words, many of them edits of a few announcements of
    all lengths: buckets full of texts of near and far lengths."""
    rng = random.Random(seed)
    bases = [rng.choices(WORDS, k=rng.choice((4, 8, 20, 39, 41, 60, 120))) for _ in range(4)]
    posts = []
    for n in range(size):
        words = list(rng.choice(bases))
        for _ in range(rng.choice((0, 1, 1, 2, 5))):
            edit = rng.randrange(3)
            if edit == 0 and len(words) > 1:
                del words[rng.randrange(len(words))]
            elif edit == 1:
                words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
            else:
                words[rng.randrange(len(words))] = rng.choice(WORDS)
        if rng.random() < 0.3:
            words += rng.choices(WORDS, k=rng.randrange(1, 30))
        posts.append(make_post(str(n), title=None, text=" ".join(words)))
    return posts


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 80), st.sampled_from((VOCABULARY_SIZE, 12)))
def test_partners_are_those_of_every_pair_tested_in_order_of_digests(seed, size, words) -> None:
    posts = _pool(seed, size)
    memo = DigestMemo(vocabulary_size=words)  # 12: texts of new vocabularies, unlike masks
    pool = NearPairs(posts, memo)
    assert list(pool.partners.items()) == list(reference_partners(posts, memo).items())


def test_the_pools_tested_have_partners_in_many_buckets() -> None:
    posts = _pool(7, 200)
    partners = NearPairs(posts, DigestMemo()).partners
    assert sum(map(len, partners.values())) > 100
    assert any(len(found) > 1 for found in partners.values())


def test_texts_of_different_vocabularies_are_compared_by_their_words() -> None:
    # The filler's words come first in one vocabulary, the announcement's
    # after them; the edited copy starts the next one: their masks' bits
    # say nothing of their common words.
    words = [f"term{n}" for n in range(50)]
    filler = make_post("filler", title=None, text=" ".join(f"other{n}" for n in range(8)))
    text = make_post("text", title=None, text=" ".join(words))
    edited = make_post("edited", title=None, text=" ".join(["changed", *words[1:]]))
    memo = DigestMemo(vocabulary_size=20)
    pool = NearPairs([filler, text, edited], memo)
    a, b = memo.facts_of(text), memo.facts_of(edited)
    assert a.vocabulary is not b.vocabulary and set(a.bands) & set(b.bands)
    assert list(pool.partners.items()) == list(reference_partners([text, edited], memo).items())
    assert sum(map(len, pool.partners.values())) == 1

"""The memo a batch of digests shares: it remembers, within bounds, and changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from aggregator.domain.spam import spam_signals
from aggregator.domain.story import text_signature
from digests import memo as memo_module
from digests.cluster import cluster_posts
from digests.compose import build_digest_from_posts
from digests.memo import DigestMemo, Recent


def test_recent_forgets_the_least_recently_used_first():
    recent: Recent[str, int] = Recent(2)
    assert recent.get("a", lambda: 1) == 1
    assert recent.get("b", lambda: 2) == 2
    assert recent.get("a", lambda: 99) == 1  # remembered, and now the most recent
    assert recent.get("c", lambda: 3) == 3
    assert len(recent) == 2
    assert recent.get("b", lambda: 20) == 20  # "b" was forgotten
    with pytest.raises(ValueError, match="at least one"):
        Recent(0)


def test_signatures_and_spam_signals_are_worked_out_once_per_text(monkeypatch):
    calls = []
    for name in ("signature_of_words", "spam_signals_of"):
        real = getattr(memo_module, name)
        monkeypatch.setattr(
            memo_module, name, lambda *args, real=real, name=name: calls.append(name) or real(*args)
        )
    memo = DigestMemo()
    post = make_post("1", text="Enter to win a free gift card! " + words(20), content_hash="h1")
    assert memo.text_signature(post) == text_signature(post)
    assert memo.spam_signals(post) == spam_signals(post) == ("giveaway",)
    # The same post read again (another recipient's digest, another source).
    again = replace(post, source_key="other")
    assert memo.text_signature(again) == text_signature(post)
    assert memo.spam_signals(again) == ("giveaway",)
    assert sorted(calls) == ["signature_of_words", "spam_signals_of"]


def test_a_post_without_a_content_hash_is_remembered_by_its_title_and_text():
    memo = DigestMemo(size=4)
    one = make_post("1", text=words(30))
    two = make_post("2", text=words(30))
    assert memo.text_signature(one) == text_signature(one)
    assert memo.text_signature(two) == text_signature(two) != text_signature(one)
    assert memo.text_signature(replace(one, external_id="3")) == text_signature(one)
    assert len(memo.facts) == 2
    # Spam signals depend on the hashtags too.
    tagged = replace(one, hashtags=tuple(f"tag{n}" for n in range(8)))
    assert memo.spam_signals(one) == ()
    assert memo.spam_signals(tagged) == ("hashtag-stuffed",)


def test_each_table_is_bounded():
    memo = DigestMemo(size=3, verdict_size=2)
    for n in range(10):
        post = make_post(str(n), text=words(30))
        memo.facts_of(post)
        memo.decide(f"a{n}", f"b{n}", lambda: True)
    assert (len(memo.facts), len(memo.verdicts)) == (3, 2)


def test_a_shared_memo_gives_the_same_digests_as_none():
    posts = [
        make_post(str(n), hours_ago=n / 2, likes=n, text=words(40), content_hash=f"h{n}")
        for n in range(30)
    ]
    posts.append(make_post("spam", title="Giveaway! Tag 3 friends", likes=900))
    recipients = [make_recipient(follow=()), make_recipient(reading_minutes=2, follow=())]
    memo = DigestMemo(size=8)  # smaller than a digest: entries are forgotten and worked out again
    for recipient in recipients * 2:
        shared = build_digest_from_posts(posts, recipient, {}, NOW, WINDOW, memo=memo)
        alone = build_digest_from_posts(posts, recipient, {}, NOW, WINDOW)
        assert shared.decisions == alone.decisions


def test_words_minhashes_are_remembered_within_their_bound():
    memo = DigestMemo(word_size=50)
    posts = [make_post(str(n), text=words(60)) for n in range(20)]
    assert [memo.text_signature(p) for p in posts] == [text_signature(p) for p in posts]
    info = memo.minhashes.cache_info()
    assert info.hits > 0 and info.currsize == 50


def test_a_new_vocabulary_changes_no_verdict():
    memo = DigestMemo(vocabulary_size=10)  # started anew after every text or two
    text = words(50)
    posts = [make_post(str(n), title=None, text=f"{text} edit{n}") for n in range(4)]
    posts.append(make_post("other", title=None, text=words(50)))
    expected = [[p.external_id for p in s.posts] for s in cluster_posts(posts)]
    assert [[p.external_id for p in s.posts] for s in cluster_posts(posts, memo)] == expected
    assert sorted(map(len, expected)) == [1, 4]

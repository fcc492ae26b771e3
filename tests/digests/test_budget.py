"""Keeping the digest to the recipient's reading minutes at 238 words per minute.

These test choosing with estimates (`digests.budget`); tests/digests/
test_reading_time.py checks the finished digest against its rendered text.
"""

from __future__ import annotations

import math

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, plan, words
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.budget import (
    ELLIPSIS,
    SCAN_SECONDS_PER_ENTRY,
    as_headline,
    entry_words,
    make_excerpt,
    reading_seconds,
)
from digests.compose import build_digest_from_posts


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("", 0, id="nothing"),
        pytest.param(words(238), 60, id="one-minute"),
        pytest.param(words(119), 30, id="half-minute"),
        pytest.param(words(1), 1, id="rounds-up"),
        pytest.param("a  b\n\tc", 1, id="any-whitespace"),
    ],
)
def test_reading_seconds_at_238_words_per_minute(text, seconds):
    assert reading_seconds(text) == seconds


def test_reading_seconds_refuses_a_non_positive_speed():
    with pytest.raises(ValueError, match="words_per_minute"):
        reading_seconds("hello", words_per_minute=0)


def test_short_text_is_shown_whole():
    text = words(60)
    assert make_excerpt(text) == (text, False)


def test_long_text_becomes_an_excerpt_cut_at_a_word_boundary():
    text = " ".join(f"w{i}," for i in range(300))
    excerpt, is_excerpt = make_excerpt(text)
    assert is_excerpt
    assert excerpt.endswith("w69" + ELLIPSIS)  # 70 words, dangling comma dropped
    assert len(excerpt.split()) == 70


def test_text_without_spaces_is_cut_by_length():
    excerpt, is_excerpt = make_excerpt("x" * 5000)
    assert is_excerpt
    assert len(excerpt) <= 601


# Budget alone: no author cap, no source share.
FREE = {"max_per_author": 10_000, "max_source_share": 1.0}


def fit_budget(posts, reading_minutes):
    """(entries, headlines) as ShownPost lists, for posts ranked in the order given."""
    grouped = plan(posts, reading_minutes, **FREE)
    return [d.shown for d in grouped["entry"]], [d.shown for d in grouped["also"]]


def test_five_minutes_of_forty_100_word_posts_is_filled_and_not_exceeded():
    posts = [
        make_post(f"{i:02d}", hours_ago=i / 10, title="A post", text=words(100)) for i in range(40)
    ]
    entries, also = fit_budget(posts, reading_minutes=5)
    total = sum(item.reading_seconds for item in [*entries, *also])
    assert total <= 300
    # Not even one more headline would fit.
    following = posts[len(entries) + len(also)]
    assert total + as_headline(following).reading_seconds > 300
    # Each 100-word post is shown as a 70-word excerpt; every word it decides
    # counts: "1. A post", "· Author 00 · 4:30 AM", the excerpt, "Read the rest:" and URL.
    assert all(item.is_excerpt for item in entries)
    first = entries[0]
    assert entry_words(first.post, first.excerpt, True) == 3 + 3 + 3 + 70 + 4
    assert first.reading_seconds == SCAN_SECONDS_PER_ENTRY + round(83 * 60 / 238)
    assert len(entries) == 13 and also == []  # 299 s: no room for a headline
    # Rank order is kept: every entry outranks every headline.
    assert [item.post for item in [*entries, *also]] == posts[: len(entries) + len(also)]


def test_a_long_post_is_shown_as_an_excerpt_with_its_link():
    long_post = make_post("long", text=words(2000), url="https://example.org/essay")
    digest = build_digest_from_posts([long_post], make_recipient(), {}, NOW, WINDOW)
    [entry] = digest.entries
    assert entry.is_excerpt and entry.excerpt.endswith(ELLIPSIS)
    assert entry.reading_seconds < 60  # not the eight minutes the whole essay takes
    assert entry.post.url == "https://example.org/essay"


def test_few_posts_all_shown_in_full():
    posts = [make_post(str(i), text=words(30)) for i in range(3)]
    entries, also = fit_budget(posts, reading_minutes=5)
    assert len(entries) == 3 and also == []
    assert not any(item.is_excerpt for item in entries)


def test_headlines_take_the_room_entries_cannot():
    # One minute: two excerpts (about 23 s each) then headlines of 3 s.
    posts = [make_post(str(i), title="A post", text=words(150)) for i in range(10)]
    entries, also = fit_budget(posts, reading_minutes=1)
    assert len(entries) == 2
    assert [item.reading_seconds for item in also] == [3, 3, 3, 3]  # 14 s were left
    assert all(item.excerpt == "" for item in also)
    assert sum(item.reading_seconds for item in [*entries, *also]) <= 60


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=3000), max_size=60),
    minutes=st.integers(min_value=0, max_value=15),
    title_words=st.integers(min_value=0, max_value=40),
)
def test_budget_is_never_exceeded(lengths, minutes, title_words):
    posts = [
        make_post(str(i), text=words(n), title=words(title_words) or None)
        for i, n in enumerate(lengths)
    ]
    grouped = plan(posts, minutes, **FREE)
    shown = [d.shown for d in grouped["entry"] + grouped["also"]]
    total = sum(item.reading_seconds for item in shown)
    assert total <= minutes * 60
    # Filled: posts are left out only when not even a headline still fits.
    if grouped["skipped"]:
        following = grouped["skipped"][0].ranked.story.lead
        assert total + as_headline(following).reading_seconds > minutes * 60


def test_digest_reading_time_stays_within_the_recipients_minutes():
    posts = [
        make_post(
            str(i),
            hours_ago=i / 4,
            text=words(100 + 37 * i),
            author=f"Author {i}",
            source_key=("blog", "social")[i % 2],
        )
        for i in range(60)
    ]
    recipient = make_recipient(reading_minutes=3)
    digest = build_digest_from_posts(posts, recipient, {}, NOW, WINDOW)
    # Every word counts, the lines around the stories too.
    assert digest.words > sum(entry.words for entry in (*digest.entries, *digest.also))
    assert digest.reading_seconds == math.ceil(digest.words * 60 / 238)
    assert 0.9 * 180 < digest.reading_seconds <= 180
    assert digest.candidate_count == 60


def test_enough_content_fills_at_least_sixty_percent_of_the_budget_in_the_digest():
    posts = [
        make_post(
            str(i),
            hours_ago=i / 6,
            text=words(20 + 13 * (i % 9)),
            author=f"Author {i % 11}",
            source_key=("blog", "social")[i % 2],
        )
        for i in range(120)
    ]
    for minutes in (1, 3, 5, 10):
        digest = build_digest_from_posts(
            posts, make_recipient(reading_minutes=minutes), {}, NOW, WINDOW
        )
        assert 0.6 * minutes * 60 <= digest.reading_seconds <= minutes * 60

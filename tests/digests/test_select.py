"""Choosing a recipient's posts: window, follows and mutes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from digest_factory import DAY, NOW, WINDOW, make_post, make_recipient

from digests import select
from digests.compose import build_digest_from_posts, digest_window


def ids(posts):
    return [post.external_id for post in posts]


def select_candidates(posts, recipient, start, end):
    return list(_select(posts, recipient, start, end).kept)


def _select(posts, recipient, start, end):
    mutes = select.compile_phrases(recipient.mute)
    return select.select_candidates(posts, recipient.follow, mutes, start, end)


# --- the window -------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_digest_at", "expected_start"),
    [
        pytest.param(NOW - timedelta(hours=3), NOW - timedelta(hours=3), id="last-3h-ago"),
        pytest.param(None, NOW - DAY, id="first-digest-one-day"),
        pytest.param(NOW - timedelta(days=5), NOW - DAY, id="5-days-ago-capped"),
        pytest.param(NOW + timedelta(hours=1), NOW, id="clock-stepped-back-empty"),
    ],
)
def test_window_runs_from_last_digest_capped_at_max(last_digest_at, expected_start):
    assert digest_window(NOW, last_digest_at, DAY) == (expected_start, NOW)


def test_window_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        digest_window(datetime(2026, 11, 30, 12, 0), None, DAY)


def test_only_posts_inside_the_window_are_candidates():
    start, end = NOW - timedelta(hours=3), NOW
    posts = [
        make_post("inside", hours_ago=1),
        make_post("on-start", published_at=start),  # belonged to the previous digest
        make_post("before", hours_ago=4),
        make_post("on-end", published_at=end),
    ]
    assert sorted(ids(select_candidates(posts, make_recipient(), start, end))) == [
        "inside",
        "on-end",
    ]


def test_future_dated_post_is_kept_clamped_to_window_end():
    posts = [make_post("ahead", hours_ago=-2)]
    [post] = select_candidates(posts, make_recipient(), *WINDOW)
    assert post.published_at == NOW


def test_posts_from_sources_not_followed_are_dropped():
    posts = [make_post("1", source_key="blog"), make_post("2", source_key="elsewhere")]
    assert ids(select_candidates(posts, make_recipient(), *WINDOW)) == ["1"]


# --- mute words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "is_muted"),
    [
        pytest.param("Free GIVEAWAY today", "", True, id="title-any-case"),
        pytest.param("Monday", "Join our #webinar!", True, id="text-hashtag"),
        pytest.param("Monday", "Three webinars this week", False, id="not-part-of-a-word"),
        pytest.param("Teacher Pay Teachers", "", True, id="phrase"),
        pytest.param("Teacher\npay   teachers", "", True, id="phrase-over-whitespace"),
        pytest.param("Teachers pay", "", False, id="phrase-words-alone"),
        pytest.param("Notes on C++ for kids", "", True, id="term-ending-in-symbol"),
    ],
)
def test_mute_words_drop_posts(title, text, is_muted):
    recipient = make_recipient(mute=("giveaway", "webinar", "teacher pay teachers", "C++"))
    posts = [make_post("1", title=title, text=text or "Plain text.")]
    kept = select_candidates(posts, recipient, *WINDOW)
    assert (kept == []) is is_muted


def test_muted_posts_never_reach_the_digest():
    recipient = make_recipient(mute=("giveaway",))
    posts = [make_post("1", title="Classroom giveaway"), make_post("2", title="Exit tickets")]
    digest = build_digest_from_posts(posts, recipient, {}, NOW, WINDOW)
    assert [entry.post.external_id for entry in digest.entries] == ["2"]
    assert digest.candidate_count == 1
    assert [post.external_id for post, _ in digest.muted] == ["1"]


def test_muted_posts_are_reported_with_the_word_as_written():
    recipient = make_recipient(mute=("teacher pay teachers",))
    posts = [make_post("1", title="Teacher Pay\nTeachers sale"), make_post("2")]
    selection = _select(posts, recipient, *WINDOW)
    assert ids(selection.kept) == ["2"]
    assert [(post.external_id, term) for post, term in selection.muted] == [
        ("1", "Teacher Pay Teachers")
    ]

"""Choosing a recipient's posts: window, follows, mutes, duplicates and ranking."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from digest_factory import DAY, NOW, WINDOW, make_post, make_recipient

from digests.digest import build_digest_from_posts, digest_window
from digests.select import rank, select_candidates


def ids(posts):
    return [post.external_id for post in posts]


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


# --- duplicates ---------------------------------------------------------------


def test_same_url_from_two_sources_keeps_the_best_copy():
    url = "https://www.cultofpedagogy.com/retrieval/"
    posts = [
        make_post("rss-1", source_key="blog", url=url, likes=0),
        make_post("tw-9", source_key="social", url=url + "?utm_source=twitter#top", likes=40),
        make_post("other", source_key="blog"),
    ]
    kept = select_candidates(posts, make_recipient(), *WINDOW)
    assert sorted(ids(kept)) == ["other", "tw-9"]


def test_duplicate_choice_does_not_depend_on_input_order():
    url = "https://example.org/same"
    a = make_post("a", source_key="blog", url=url)
    b = make_post("b", source_key="social", url=url)
    recipient = make_recipient()
    assert ids(select_candidates([a, b], recipient, *WINDOW)) == ids(
        select_candidates([b, a], recipient, *WINDOW)
    )


# --- ranking ------------------------------------------------------------------


def test_newer_posts_rank_higher_all_else_equal():
    posts = [make_post("old", hours_ago=10), make_post("new", hours_ago=1)]
    assert ids(rank(posts, make_recipient(), NOW)) == ["new", "old"]


def test_engagement_lifts_a_post():
    posts = [make_post("quiet", hours_ago=2), make_post("lively", hours_ago=3, likes=200)]
    assert ids(rank(posts, make_recipient(), NOW)) == ["lively", "quiet"]


def test_boost_moves_a_post_up():
    posts = [
        make_post("fresh", hours_ago=1, title="Bus duty rota"),
        make_post("ngss", hours_ago=20, title="Phenomena for NGSS units"),
        make_post("fa", hours_ago=12, text="Quick formative  assessment ideas"),
    ]
    assert ids(rank(posts, make_recipient(), NOW)) == ["fresh", "fa", "ngss"]
    boosted = make_recipient(boost=("ngss", "formative assessment"))
    assert ids(rank(posts, boosted, NOW)) == ["fa", "ngss", "fresh"]


def test_ties_break_by_newest_then_external_id_whatever_the_input_order():
    same_time = NOW - timedelta(hours=2)
    posts = [
        make_post("b", published_at=same_time),
        make_post("older", hours_ago=5),
        make_post("a", published_at=same_time),
        make_post("c", published_at=same_time),
    ]
    expected = ["a", "b", "c", "older"]
    assert ids(rank(posts, make_recipient(), NOW)) == expected
    assert ids(rank(list(reversed(posts)), make_recipient(), NOW)) == expected


def test_equal_scores_are_ordered_by_published_at_before_external_id():
    # Same score (both "now" or later for recency), different publication times.
    posts = [
        make_post("a", published_at=NOW + timedelta(minutes=5)),
        make_post("z", published_at=NOW + timedelta(minutes=10)),
    ]
    assert ids(rank(posts, make_recipient(), NOW)) == ["z", "a"]


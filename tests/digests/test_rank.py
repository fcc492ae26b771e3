"""Ranking stories: recency, engagement within each network and source, sharing, boosts, spam."""

from __future__ import annotations

from datetime import timedelta

import pytest
from digest_factory import NOW, make_post, make_recipient, percentiles_of, ranked

from aggregator.domain.post import Engagement
from aggregator.domain.spam import spam_signals
from digests.rank import BOOST_BONUS, SHARING_WEIGHT, SPAM_KEEP


def order(posts, recipient=None):
    return [item.story.lead.external_id for item in ranked(posts, recipient)]


def scores(posts, recipient=None):
    return {item.story.lead.external_id: item.score for item in ranked(posts, recipient)}


def test_newer_posts_rank_higher_all_else_equal():
    assert order([make_post("old", hours_ago=10), make_post("new", hours_ago=1)]) == ["new", "old"]


def test_engagement_lifts_a_post_within_its_source():
    posts = [make_post("quiet", hours_ago=2), make_post("lively", hours_ago=3, likes=200)]
    assert order(posts) == ["lively", "quiet"]


def test_engagement_is_judged_against_the_posts_own_network_and_source():
    # 40 likes is the best of a small Mastodon tag, and the worst on busy #edchat.
    small = [
        make_post(f"m{i}", source_key="tag", network="mastodon", likes=n, hours_ago=2)
        for i, n in enumerate((0, 1, 2, 40))
    ]
    busy = [
        make_post(f"t{i}", source_key="edchat", network="twitter", likes=n, hours_ago=2)
        for i, n in enumerate((40, 300, 900, 5000))
    ]
    percentiles = percentiles_of(small + busy)
    assert percentiles[("tag", "m3")] == pytest.approx(7 / 8)
    assert percentiles[("edchat", "t0")] == pytest.approx(1 / 8)
    assert order(small + busy)[:2] in (["m3", "t3"], ["t3", "m3"])
    assert order(small + busy).index("m3") < order(small + busy).index("t0")


def test_a_feed_without_counts_is_neutral():
    posts = [make_post(str(i), source_key="blog") for i in range(3)]
    assert set(percentiles_of(posts).values()) == {0.5}


def test_a_story_shared_by_more_people_ranks_higher():
    url = "https://example.org/article"
    shared = [
        make_post(
            f"s{i}", source_key="social", network="mastodon", title=None, links=(url,), hours_ago=4
        )
        for i in range(4)
    ]
    alone = make_post("alone", hours_ago=3)
    parts = scores([*shared, alone])
    [lead] = [key for key in parts if key != "alone"]
    assert parts[lead].sharing == pytest.approx(SHARING_WEIGHT * 2)  # log2(4 people)
    assert parts["alone"].sharing == 0
    assert order([*shared, alone])[0] == lead


def test_boost_moves_a_post_up():
    posts = [
        make_post("fresh", hours_ago=1, title="Bus duty rota"),
        make_post("ngss", hours_ago=20, title="Phenomena for NGSS units"),
        make_post("fa", hours_ago=12, text="Quick formative  assessment ideas"),
    ]
    assert order(posts) == ["fresh", "fa", "ngss"]
    boosted = make_recipient(boost=("ngss", "formative assessment"))
    assert order(posts, boosted) == ["fa", "ngss", "fresh"]
    assert scores(posts, boosted)["ngss"].boost == BOOST_BONUS


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        pytest.param(
            "HUGE classroom GIVEAWAY! Enter to win a free iPad", ("giveaway",), id="giveaway"
        ),
        pytest.param(
            "Teachers, earn passive income with #Bitcoin and NFTs", ("crypto",), id="crypto"
        ),
        pytest.param("Follow for follow! #teacherfollowtrain", ("follow-for-follow",), id="f4f"),
        pytest.param(
            "#edchat #teachers #k12 #edtech #math #science #ela #scichat",
            ("hashtag-stuffed",),
            id="hashtags",
        ),
        pytest.param(
            "Our unit on the Bitcoin bubble: a lesson in economics",
            ("crypto",),
            id="false-hit-demoted-only",
        ),
        pytest.param("Exit tickets that take two minutes #edchat #formative", (), id="clean"),
        pytest.param("Give students the follow-up question first", (), id="no-substring-hits"),
    ],
)
def test_spam_signals(text, reasons):
    assert spam_signals(make_post("1", title=None, text=text)) == reasons


def test_spam_sinks_below_clean_posts_but_stays_a_candidate():
    posts = [
        make_post("spam", hours_ago=0.5, title="Giveaway: win a free classroom set", likes=500),
        make_post("clean", hours_ago=8, title="Cold-calling with kindness"),
    ]
    parts = scores(posts)
    assert order(posts) == ["clean", "spam"]
    assert parts["spam"].spam_reasons == ("giveaway",)
    assert parts["spam"].total == pytest.approx(
        SPAM_KEEP * (parts["spam"].total - parts["spam"].spam)
    )


def test_ties_break_by_newest_then_external_id_whatever_the_input_order():
    same_time = NOW - timedelta(hours=2)
    posts = [
        make_post("b", published_at=same_time, title="Same"),
        make_post("older", hours_ago=5),
        make_post("a", published_at=same_time, title="Also same"),
        make_post("c", published_at=same_time, title="Third"),
    ]
    expected = ["a", "b", "c", "older"]
    assert order(posts) == expected
    assert order(list(reversed(posts))) == expected


def test_engagement_counts_reposts_and_quotes_more_than_likes():
    posts = [
        make_post("likes", engagement=Engagement(likes=3)),
        make_post("shares", engagement=Engagement(reposts=2)),
    ]
    assert percentiles_of(posts)[("blog", "shares")] > percentiles_of(posts)[("blog", "likes")]

"""Standouts: the day's remarkable post of a source is in the digest, not cut for fresher ones."""

from __future__ import annotations

import random
import statistics

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, standouts_of, words

from aggregator.domain.post import Engagement
from digests import engagement as engagement_module
from digests.compose import build_digest_from_posts
from digests.engagement import Standout, weighted_engagement
from digests.explain import explain_lines

# (source, network, hours ago of its standout: some well before the newest posts)
SOCIAL = [
    ("edchat", "twitter", 14.0),
    ("scied", "mastodon", 9.0),
    ("bsky", "bluesky", 19.0),
    ("fbgroup", "facebook", 3.0),
    ("mathchat", "twitter", 22.0),
]


def busy_day(seed: int = 7):
    """Five social sources of 16 posts each, every post 70 words, counts like a real
    day's (mostly a few likes, a reply here and there); each source's standout has
    2.5 to 4 times the weighted engagement of its best other post. Plus a blog."""
    rng = random.Random(seed)
    posts, standouts = [], {}
    for source, network, standout_hours in SOCIAL:
        ordinary = []
        for n in range(15):
            counts = Engagement(
                likes=rng.randint(0, 9), reposts=rng.randint(0, 2), replies=rng.randint(0, 2)
            )
            ordinary.append(
                make_post(
                    f"{source}-{n}",
                    source_key=source,
                    network=network,
                    title=None,
                    author=f"{source} member {n}",
                    text=words(70),
                    hours_ago=0.2 + n * 1.5,
                    engagement=counts,
                )
            )
        runner_up = max(weighted_engagement(p) for p in ordinary)
        likes = int(runner_up * rng.uniform(2.5, 4.0)) + 1
        standout = make_post(
            f"{source}-star",
            source_key=source,
            network=network,
            title=None,
            author=f"{source} star",
            text=words(70),
            hours_ago=standout_hours,
            engagement=Engagement(likes=likes),
        )
        posts += [*ordinary, standout]
        standouts[source] = standout.external_id
    posts += [make_post(f"blog-{n}", text=words(120), hours_ago=n + 0.5) for n in range(6)]
    return posts, standouts


def follows():
    return make_recipient(follow=(*(s for s, _, _ in SOCIAL), "blog"))


def test_a_day_whose_standouts_are_known_puts_every_standout_in():
    posts, standouts = busy_day()
    assert {key[0]: key[1] for key in standouts_of(posts)} == standouts
    digest = build_digest_from_posts(posts, follows(), {}, NOW, WINDOW)
    entries = {entry.post.external_id for entry in digest.entries}
    assert set(standouts.values()) <= entries
    # Not the whole day: the budget still holds, and newer ordinary posts were left out.
    assert digest.reading_seconds <= 5 * 60
    assert len(digest.entries) + len(digest.also) < len(posts)


def test_without_the_standout_signal_that_day_cuts_standouts(monkeypatch):
    """The day above is the issue's: ranked by percentile and recency alone, the
    older standouts are cut "over the reading time"."""
    monkeypatch.setattr(engagement_module, "STANDOUT_MIN_ENGAGEMENT", float("inf"))
    posts, standouts = busy_day()
    digest = build_digest_from_posts(posts, follows(), {}, NOW, WINDOW)
    cut = [
        d
        for d in digest.decisions
        if d.ranked.story.lead.external_id in standouts.values() and d.placement == "skipped"
    ]
    assert cut and all(d.reason == "over the reading time" for d in cut)


@pytest.mark.parametrize("seed", range(5))
def test_standouts_are_in_whatever_the_day(seed):
    posts, standouts = busy_day(seed)
    digest = build_digest_from_posts(posts, follows(), {}, NOW, WINDOW)
    assert set(standouts.values()) <= {entry.post.external_id for entry in digest.entries}


def test_explain_shows_the_standout_signal():
    posts, _ = busy_day()
    lines = explain_lines(build_digest_from_posts(posts, follows(), {}, NOW, WINDOW))
    [line] = [line for line in lines if "[edchat, twitter, edchat star]" in line]
    assert "+ standout 1.00 +" in line
    assert ": entry: stands out; in edchat: engagement " in line
    assert "x the runner-up (" in line and "of 15 other posts" in line


def social(name, likes, hours_ago=1.0, source_key="edchat", **fields):
    return make_post(
        name,
        source_key=source_key,
        network="twitter",
        title=None,
        hours_ago=hours_ago,
        engagement=Engagement(likes=likes),
        **fields,
    )


@pytest.mark.parametrize(
    ("counts", "is_standout"),
    [
        pytest.param([25, 10, 3, 2, 0], True, id="2.5x-the-runner-up"),
        pytest.param([24, 10, 3, 2, 0], False, id="just-under-2.5x"),
        pytest.param([3, 1, 0, 0], False, id="3-against-1-is-too-few"),
        pytest.param([10, 0, 0], True, id="ten-likes-on-a-quiet-day"),
        pytest.param([40, 14, 14, 14, 15], False, id="under-3x-the-median"),
        pytest.param([40, 40, 3], False, id="a-tie-is-no-standout"),
        pytest.param([99, 0], False, id="two-posts-are-no-crowd"),
        pytest.param([0, 0, 0, 0], False, id="a-feed-without-counts"),
    ],
)
def test_what_stands_out(counts, is_standout):
    posts = [social(f"p{n}", likes) for n, likes in enumerate(counts)]
    found = standouts_of(posts)
    assert bool(found) is is_standout
    if is_standout:
        others = counts[1:]
        assert found == {
            ("edchat", "p0"): Standout(
                "edchat", "p0", counts[0], max(others), statistics.median(others), len(others)
            )
        }


def test_each_source_is_judged_on_its_own():
    # 30 likes is the runner-up's level on the busy source, a standout on the quiet one.
    busy = [social(f"b{n}", 30 - n) for n in range(5)]
    quiet = [social(f"q{n}", 30 if n == 0 else 2, source_key="quiet") for n in range(5)]
    assert list(standouts_of(busy + quiet)) == [("quiet", "q0")]


def test_a_standout_is_in_unless_muted_spam_or_outside_the_window():
    def day(star):
        return [star, *(social(f"o{n}", 2, hours_ago=0.5, text=words(200)) for n in range(12))]

    recipient = make_recipient(follow=("edchat",), mute=("webinar",), reading_minutes=1)

    def placement(star):
        digest = build_digest_from_posts(day(star), recipient, {}, NOW, WINDOW)
        decided = {d.ranked.story.lead.external_id: d.placement for d in digest.decisions}
        return decided.get(star.external_id, "muted" if digest.muted else "not a candidate")

    assert placement(social("star", 60, hours_ago=20, text=words(200))) == "entry"
    spam = social("star", 60, hours_ago=20, text="Enter to win a free gift card! " + words(50))
    assert placement(spam) != "entry"
    assert placement(social("star", 60, hours_ago=20, text="Our webinar " + words(50))) == "muted"
    assert placement(social("star", 60, hours_ago=30, text=words(50))) == "not a candidate"


def test_a_standout_is_kept_past_the_author_cap():
    # Pat's two fresh posts on a boosted topic outrank Pat's standout from
    # last night; the cap of two would skip it, but a standout is in.
    fresh = [
        make_post(f"pat{n}", author="Prolific Pat", hours_ago=n + 0.5, text="NGSS " + words(40))
        for n in range(3)
    ]
    star = make_post("star", author="Prolific Pat", hours_ago=20, likes=80, text=words(40))
    others = [make_post(f"o{n}", author=f"Other {n}", hours_ago=n + 1) for n in range(4)]
    recipient = make_recipient(boost=("NGSS",))
    digest = build_digest_from_posts([*fresh, star, *others], recipient, {}, NOW, WINDOW)
    decided = {d.ranked.story.lead.external_id: d for d in digest.decisions}
    assert decided["star"].ranked.rank > decided["pat1"].ranked.rank
    assert (decided["star"].placement, decided["star"].reason) == ("entry", "entry: stands out")
    assert decided["pat2"].reason.startswith("author cap")

"""Who shared a story: reposts count, never as a story of their own; the best-known names first."""

from __future__ import annotations

from datetime import timedelta

from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from aggregator.domain.post import Engagement
from digests.cluster import cluster_posts
from digests.compose import build_digest_from_posts
from digests.explain import explain_lines

ORIGINAL_URL = "https://x.com/ana/status/1"


def original(**fields):
    values = {
        "source_key": "edchat",
        "network": "twitter",
        "url": ORIGINAL_URL,
        "author": "Ana (@ana)",
        "title": None,
        "text": "Our webinar on retrieval practice starts at eight tonight, all welcome",
        "hours_ago": 2,
        "likes": 40,
    }
    return make_post("1", **(values | fields))


def repost(n, of=ORIGINAL_URL, author=None, hours_ago=1.0, **fields):
    return make_post(
        f"rt{n}",
        source_key="edchat",
        network="twitter",
        url=of,
        author=author or f"Fan {n} (@fan{n})",
        title=None,
        text="",
        hours_ago=hours_ago,
        repost_of=of,
        **fields,
    )


EDCHAT = make_recipient(follow=("edchat",))


def test_reposts_are_shares_of_their_originals_story():
    [story] = cluster_posts([original(), *(repost(n) for n in range(3))])
    assert story.lead.external_id == "1" and len(story.own_posts) == 1
    assert [s.author for s in story.sharers] == [
        "Ana (@ana)",
        "Fan 0 (@fan0)",
        "Fan 1 (@fan1)",
        "Fan 2 (@fan2)",
    ]
    digest = build_digest_from_posts(
        [original(), *(repost(n) for n in range(3))], EDCHAT, {}, NOW, WINDOW
    )
    assert [len(entry.sharers) for entry in digest.entries] == [4]
    assert "        + reposted: [edchat, twitter, Fan 0 (@fan0)]" in explain_lines(digest)


def test_reposts_alone_are_no_story():
    """The original is muted, or older than the window: its reposts show nothing."""
    posts = [original(), *(repost(n) for n in range(3))]
    muted = build_digest_from_posts(
        posts, make_recipient(follow=(), mute=("webinar",)), {}, NOW, WINDOW
    )
    assert muted.is_empty and [post.external_id for post, _ in muted.muted] == ["1"]
    late = build_digest_from_posts(posts, EDCHAT, {}, NOW, (NOW - timedelta(hours=1.5), NOW))
    assert late.is_empty and not late.decisions
    assert cluster_posts(posts[1:]) == []


def test_a_repost_never_leads_and_adds_no_recency_nor_engagement():
    # A repost made now of a post from 20 hours ago: the story is as old as its post.
    posts = [original(hours_ago=20), repost(0, hours_ago=0.1, engagement=Engagement())]
    shared, alone = (
        build_digest_from_posts(day, EDCHAT, {}, NOW, WINDOW).decisions[0]
        for day in (posts, posts[:1])
    )
    assert shared.ranked.story.lead.external_id == "1"
    assert shared.ranked.score.recency == alone.ranked.score.recency
    assert shared.ranked.score.engagement == alone.ranked.score.engagement
    assert shared.ranked.score.sharing > alone.ranked.score.sharing == 0


def test_names_go_author_first_then_the_best_known():
    """After the lead's author: the most interactions drawn by their own posts in the
    window, then the most posts shared there, then in the order they shared it."""
    quiet_quote = make_post(
        "q1",
        source_key="edchat",
        network="twitter",
        author="Quiet (@quiet)",
        title=None,
        text="So good " + words(8),
        links=(ORIGINAL_URL,),
        hours_ago=1.5,
    )
    famous_quote = make_post(
        "q2",
        source_key="edchat",
        network="twitter",
        author="Famous (@famous)",
        title=None,
        text="Read this " + words(8),
        links=(ORIGINAL_URL,),
        hours_ago=0.5,
        likes=30,
    )
    busy_elsewhere = make_post("other", source_key="edchat", author="Busy (@busy)", hours_ago=3)
    posts = [
        original(),
        repost(1, hours_ago=1.8),
        repost(2, author="Busy (@busy)", hours_ago=1.7),
        quiet_quote,
        famous_quote,
        busy_elsewhere,
    ]
    [story] = [s for s in cluster_posts(posts) if s.lead.external_id == "1"]
    assert [s.author for s in story.sharers] == [
        "Ana (@ana)",  # the author of what is shown
        "Famous (@famous)",  # 30 likes on their own post today
        "Busy (@busy)",  # two of the day's posts
        "Fan 1 (@fan1)",  # one post each, in the order they shared it
        "Quiet (@quiet)",
    ]

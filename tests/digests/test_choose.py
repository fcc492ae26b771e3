"""Choosing entries: diversity across sources, a cap per author, reasons for everything."""

from __future__ import annotations

from collections import Counter

from digest_factory import NOW, WINDOW, make_post, make_recipient, plan, words

from digests.compose import build_digest_from_posts


def sources(decisions):
    return Counter(d.ranked.story.lead.source_key for d in decisions)


def day(blog=10, social=5, text_words=30):
    """`blog` posts from one busy source ranked above `social` posts from another."""
    posts = [make_post(f"b{i}", source_key="blog", text=words(text_words)) for i in range(blog)]
    return posts + [
        make_post(f"s{i}", source_key="social", text=words(text_words)) for i in range(social)
    ]


def test_no_source_holds_more_than_forty_percent_of_entries_when_others_have_content():
    posts = day(blog=10, social=3) + [make_post(f"p{i}", source_key="pod") for i in range(3)]
    grouped = plan(posts, minutes=2)
    entries = grouped["entry"]
    assert len(entries) >= 5
    assert max(sources(entries).values()) <= 0.4 * len(entries)
    # The busy source's stories that made way are headlines, and say why.
    moved = [d for d in grouped["also"] if "over 40% of entries" in d.reason]
    assert moved and all(d.ranked.story.lead.source_key == "blog" for d in moved)


def test_a_lone_source_fills_the_digest_when_others_have_nothing():
    grouped = plan(day(blog=12, social=0), minutes=2)
    assert sources(grouped["entry"]) == Counter({"blog": len(grouped["entry"])})
    assert len(grouped["entry"]) >= 5


def test_the_cap_gives_way_once_other_sources_run_out():
    grouped = plan(day(blog=12, social=1), minutes=2)
    counts = sources(grouped["entry"])
    assert counts["social"] == 1  # the one other story is in
    assert counts["blog"] == len(grouped["entry"]) - 1


def test_an_author_gets_at_most_two_stories():
    posts = [make_post(f"a{i}", author="Prolific Pat", hours_ago=i + 1) for i in range(5)]
    posts += [make_post(f"o{i}", hours_ago=i + 1) for i in range(3)]
    grouped = plan(posts, minutes=5)
    shown = [d.ranked.story.lead.external_id for d in grouped["entry"] + grouped["also"]]
    assert [i for i in shown if i.startswith("a")] == ["a0", "a1"]
    assert [d.ranked.story.lead.external_id for d in grouped["skipped"]] == ["a2", "a3", "a4"]
    assert all("author cap" in d.reason for d in grouped["skipped"])


def test_posts_without_an_author_are_not_capped_together():
    posts = [make_post(f"n{i}", author="") for i in range(4)]
    assert len(plan(posts, minutes=5)["entry"]) == 4


def test_the_digest_keeps_the_mix_end_to_end():
    posts = day(blog=20, social=6)
    digest = build_digest_from_posts(posts, make_recipient(), {}, NOW, WINDOW)
    counts = Counter(entry.post.source_key for entry in digest.entries)
    assert counts["social"] >= 1
    assert counts["blog"] <= 0.4 * len(digest.entries) or counts["social"] == 6


def test_every_story_gets_exactly_one_decision_in_rank_order():
    decisions = [
        d
        # 50-word posts: three entries leave room for headlines in a minute.
        for group in plan(day(blog=30, social=30, text_words=50), minutes=1).values()
        for d in group
    ]
    ranks = sorted(d.ranked.rank for d in decisions)
    assert ranks == list(range(1, 61))
    assert {d.placement for d in decisions} == {"entry", "also", "skipped"}
    assert all(d.shown is None for d in decisions if d.placement == "skipped")

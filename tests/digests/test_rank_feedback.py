""" "More / less like this" in ranking: pure, given the teacher's leanings."""

from __future__ import annotations

from digest_factory import NOW, WINDOW, make_post, make_recipient

from aggregator.domain.feedback import NO_LEANINGS, Leaning, LeaningKind, Leanings, leanings_from
from digests.compose import build_digest_from_posts

TITLES = {"blog": "A Blog", "pod": "A Podcast"}


def _order(posts, leanings=NO_LEANINGS):  # type: ignore[no-untyped-def]
    recipient = make_recipient(follow=("blog", "pod"), reading_minutes=10)
    digest = build_digest_from_posts(posts, recipient, TITLES, NOW, WINDOW, leanings=leanings)
    return [e.post.external_id for e in (*digest.entries, *digest.also)]


def _posts():  # type: ignore[no-untyped-def]
    # The blog's post is the fresher: it leads without feedback.
    return [
        make_post("b1", source_key="blog", hours_ago=1, author="Ana", hashtags=("#math",)),
        make_post("p1", source_key="pod", hours_ago=3, author="Ben", hashtags=("#science",)),
    ]


def test_less_of_a_source_sinks_its_story_and_more_raises_one() -> None:
    assert _order(_posts()) == ["b1", "p1"]
    less_blog = Leanings((Leaning(LeaningKind.SOURCE, "blog", -1),))
    assert _order(_posts(), less_blog) == ["p1", "b1"]
    more_pod = Leanings((Leaning(LeaningKind.SOURCE, "pod", 1),))
    assert _order(_posts(), more_pod) == ["p1", "b1"]


def test_an_author_or_a_topic_counts_whatever_the_source_or_case() -> None:
    assert _order(_posts(), Leanings((Leaning(LeaningKind.AUTHOR, "ben", 1),))) == ["p1", "b1"]
    assert _order(_posts(), Leanings((Leaning(LeaningKind.TOPIC, "math", -1),))) == ["p1", "b1"]


def test_less_like_this_sinks_a_story_but_never_hides_it() -> None:
    blog = _posts()[0]
    assert set(_order(_posts(), Leanings(leanings_from(blog, -1)))) == {"b1", "p1"}


def test_a_tap_records_the_source_the_author_and_the_first_hashtag() -> None:
    post = make_post("x", source_key="blog", author="  Ana  Diaz ", hashtags=("#Math", "#k12"))
    assert leanings_from(post, 1) == (
        Leaning(LeaningKind.SOURCE, "blog", 1),
        Leaning(LeaningKind.AUTHOR, "ana diaz", 1),
        Leaning(LeaningKind.TOPIC, "math", 1),
    )
    assert [lean.kind for lean in leanings_from(make_post("y", author=""), -1)] == ["source"]

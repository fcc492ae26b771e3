"""One story, one entry: shares of an article, reposts, quotes and cross-posts group."""

from __future__ import annotations

from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from aggregator.domain.story import story_keys, with_keys
from connectors import network_labels
from digests.cluster import cluster_posts, text_words
from digests.compose import build_digest_from_posts
from digests.memo import DigestMemo
from digests.nearby import is_near_identical
from digests.render import render_html, render_text

LABELS = network_labels()

ARTICLE = "https://www.edutopia.org/article/retrieval-practice-routines/"
ANNOUNCEMENT = (
    "Our district science fair is open to every middle school this year: "
    "registration closes Friday, judges still needed for Saturday morning."
)


def groups(posts, memo=None):
    """Each story as a sorted list of external ids, stories sorted."""
    stories = cluster_posts(posts, memo)
    return sorted(sorted(p.external_id for p in story.posts) for story in stories)


def a_day():
    """A hand-built day: one article shared four ways, one cross-post, two loners."""
    return [
        make_post(
            "blog-1",
            source_key="blog",
            url=ARTICLE,
            title="Retrieval practice routines",
            author="Edutopia",
            hours_ago=5,
        ),
        make_post(
            "tw-1",
            source_key="edchat",
            network="twitter",
            title=None,
            author="Ben Ortiz",
            url="https://x.com/bortiz/status/111",
            hours_ago=4,
            text="Loved this on low-stakes quizzing",
            links=(ARTICLE.replace("https://www.", "https://m.") + "?utm_source=twitter",),
        ),
        make_post(
            "md-1",
            source_key="mastodon",
            network="mastodon",
            title=None,
            author="Cy Park",
            url="https://mastodon.social/@cy/222",
            hours_ago=3,
            text="Retrieval practice, explained well",
            links=(ARTICLE + "#top",),
        ),
        # The same tweet found through a second source (a search and a list): a repost.
        make_post(
            "tw-1",
            source_key="list",
            network="twitter",
            title=None,
            author="Ben Ortiz",
            url="https://twitter.com/bortiz/status/111/",
            hours_ago=4,
            text="Loved this on low-stakes quizzing",
        ),
        # A quote of that tweet links to it.
        make_post(
            "tw-2",
            source_key="edchat",
            network="twitter",
            title=None,
            author="Dee Lane",
            url="https://x.com/dlane/status/333",
            text="Yes! We do this every Monday",
            hours_ago=2,
            links=("https://twitter.com/bortiz/status/111",),
        ),
        # The same announcement cross-posted, with each network's hashtags and links.
        make_post(
            "md-2",
            source_key="mastodon",
            network="mastodon",
            title=None,
            author="Eve Ruiz",
            text=ANNOUNCEMENT + " #scied #edutooters https://sci.fair/r",
        ),
        make_post(
            "bs-2",
            source_key="bluesky",
            network="bluesky",
            title=None,
            author="Eve Ruiz",
            text="@eve.bsky.social " + ANNOUNCEMENT.replace("Friday,", "Friday;") + " #scichat",
        ),
        make_post(
            "tw-3",
            source_key="edchat",
            network="twitter",
            title=None,
            author="Fay Kim",
            text="Great post!",
        ),
        make_post(
            "md-3",
            source_key="mastodon",
            network="mastodon",
            title=None,
            author="Gus Lee",
            text="Great post!",
        ),
    ]


def test_a_hand_built_day_groups_into_known_stories():
    assert groups(a_day()) == [
        ["blog-1", "md-1", "tw-1", "tw-1", "tw-2"],
        ["bs-2", "md-2"],
        ["md-3"],
        ["tw-3"],
    ]


def test_the_article_leads_its_story_and_sharers_are_counted_once_per_person():
    [story] = [s for s in cluster_posts(a_day()) if s.lead.external_id == "blog-1"]
    assert story.lead.title == "Retrieval practice routines"
    assert [(s.author, s.networks) for s in story.sharers] == [
        ("Edutopia", ("rss",)),
        ("Ben Ortiz", ("twitter",)),
        ("Cy Park", ("mastodon",)),
        ("Dee Lane", ("twitter",)),
    ]  # the lead first, then in order of sharing; Ben's tweet seen twice counts once


def test_one_person_cross_posting_counts_once_with_both_networks():
    [story] = [s for s in cluster_posts(a_day()) if s.lead.external_id in ("md-2", "bs-2")]
    assert [(s.author, sorted(s.networks)) for s in story.sharers] == [
        ("Eve Ruiz", ["bluesky", "mastodon"])
    ]


def test_grouping_does_not_depend_on_input_order():
    day = a_day()
    assert groups(day) == groups(list(reversed(day)))
    leads = sorted(s.lead.external_id for s in cluster_posts(day))
    assert leads == sorted(s.lead.external_id for s in cluster_posts(list(reversed(day))))


class CountingMemo(DigestMemo):
    compared = 0

    def decide(self, a, b, compare):
        def counted():
            self.compared += 1
            return compare()

        return super().decide(a, b, counted)


def test_stored_keys_and_a_memo_shared_by_a_batch_change_no_story():
    edited = ANNOUNCEMENT.replace("closes Friday", "closes on Friday")
    day = [*a_day(), make_post("news", source_key="news", title=None, text=edited, hours_ago=2)]
    memo = CountingMemo()
    expected = groups(day, memo)
    assert ["bs-2", "md-2", "news"] in expected
    compared = memo.compared
    assert compared > 0  # the edited copy was compared by text
    stored = [with_keys(post) for post in day]  # as the store gives them back
    assert groups(stored, memo) == expected
    assert memo.compared == compared  # the verdicts were remembered, not compared again
    assert groups(stored) == expected


def test_links_to_home_pages_hashtags_and_profiles_do_not_make_a_story():
    posts = [
        make_post("1", links=("https://www.edutopia.org/",)),
        make_post("2", links=("https://edutopia.org",)),
        make_post("3", links=("https://mastodon.social/tags/edchat",)),
        make_post("4", links=("https://mastodon.social/tags/edchat",)),
        make_post("5", links=("https://twitter.com/edutopia",)),
        make_post("6", links=("https://x.com/edutopia",)),
    ]
    assert len(cluster_posts(posts)) == 6
    assert story_keys(posts[0]) == ("https://example.org/blog/1",)


def test_near_identical_text_needs_enough_words_and_real_similarity():
    long_a = text_words(make_post("a", title=None, text=words(120, "x") + " " + ANNOUNCEMENT))
    assert is_near_identical(
        text_words(make_post("a", title=None, text=ANNOUNCEMENT)),
        text_words(make_post("b", title=None, text=ANNOUNCEMENT.upper())),
    )
    assert not is_near_identical(["great", "post"], ["great", "post"])  # too short to tell
    assert not is_near_identical(
        text_words(make_post("c", title=None, text=words(80))),
        text_words(make_post("d", title=None, text=words(80))),
    )
    assert is_near_identical(long_a, [*long_a[:-2], "edited", "ending"])


def test_a_story_is_one_entry_saying_who_shared_it():
    digest = build_digest_from_posts(a_day(), make_recipient(follow=()), {}, NOW, WINDOW)
    shown = [*digest.entries, *digest.also]
    assert len(shown) == 4
    [article] = [e for e in digest.entries if e.post.external_id == "blog-1"]
    expected = (
        "Shared by 4 people in your network: Edutopia (Web), Ben Ortiz (X), "
        "Cy Park (Mastodon) and Dee Lane (X)"
    )
    assert expected in render_html(digest, labels=LABELS)
    assert "Shared by 4 people in your network" in render_text(digest, labels=LABELS)
    assert article.post.url == ARTICLE

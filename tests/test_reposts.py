"""Who shared it: retweets, boosts and quote posts count as shares of the original's story.

From the recorded API pages through the connectors, the store and the
digest to the rendered "Shared by N", without a second story for a repost.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from aggregator.config.types import Config, TwitterConfig
from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from aggregator.store.repository import Repository
from connectors import network_labels
from connectors.base import ConnectorContext
from connectors.bluesky.post import to_post as bluesky_post
from connectors.http.guard import make_session
from connectors.mastodon.post import to_posts as mastodon_posts
from connectors.twitter.connector import TwitterSearchConnector
from digests.cluster import cluster_posts
from digests.compose import build_digest_from_posts
from digests.explain import explain_lines
from digests.render import shared_by
from tests.http_fixtures import add_interaction, load_interaction

NOW = datetime(2021, 9, 22, 17, 0, tzinfo=UTC)  # just after the recorded #kpop page
KPOP = "twitter/twarc-csv/kpop.page.json"
SEARCH = "https://api.twitter.com/2/tweets/search/recent"
# @ThaiEnquirer's post, retweeted on the #kpop page by four accounts.
ORIGINAL = "1440587917068406788"
ORIGINAL_URL = f"https://x.com/ThaiEnquirer/status/{ORIGINAL}"
SOURCE = SourceConfig("kpop", "twitter_search", "#kpop on X", (("query", "#kpop"),))
ANA = RecipientConfig(
    email="ana@school.example", name="Ana", timezone="UTC", reading_minutes=5, follow=("kpop",)
)
WINDOW = (NOW - timedelta(hours=24), NOW)


def kpop_page_with_two_quotes() -> dict[str, Any]:
    """The recorded #kpop page, plus two accounts quoting @ThaiEnquirer's post
    (the recording has retweets of it, no quotes)."""
    page: dict[str, Any] = copy.deepcopy(load_interaction(KPOP)["response"]["json"])
    page["meta"].pop("next_token")
    quoters = [
        ("9100000000000000001", "Quinn Ortiz", "qortiz", 5),
        ("9100000000000000002", "Rhea Lane", "rlane", 2),
    ]
    for n, (user_id, name, username, likes) in enumerate(quoters):
        page["includes"]["users"].append({"id": user_id, "name": name, "username": username})
        page["data"].insert(
            0,
            {
                "id": str(1440717180000000000 + n),
                "author_id": user_id,
                "text": f"A chart first, and a lesson on how charts work for my class ({n})",
                "created_at": f"2021-09-22T16:38:3{n}.000Z",
                "referenced_tweets": [{"type": "quoted", "id": ORIGINAL}],
                "public_metrics": {
                    "like_count": likes,
                    "retweet_count": 0,
                    "reply_count": 0,
                    "quote_count": 0,
                },
                "lang": "en",
            },
        )
    return page


@pytest.fixture
def fetched() -> Iterator[FetchResult]:
    config = Config(twitter=TwitterConfig(bearer_token=Secret("TWITTER_BEARER_TOKEN", "t")))
    context = ConnectorContext(make_session("PLN-Digest/test"), config, lambda: NOW)
    with responses.RequestsMock() as mock:
        add_interaction(mock, KPOP, url=SEARCH, body=kpop_page_with_two_quotes())
        yield TwitterSearchConnector(context).fetch(SOURCE, FetchState())


def stored(result: FetchResult, tmp_path: Path) -> list[Post]:
    """The fetched posts as the store gives them back for a digest."""
    with Repository.open(f"sqlite:///{tmp_path / 'pln.db'}") as repo:
        repo.sync_sources([SOURCE], NOW)
        repo.save_fetch("kpop", result, NOW, NOW + timedelta(hours=1))
        assert repo.save_fetch("kpop", result, NOW, NOW) == (0, 0)  # reposts too are stable
        return repo.posts_for_digest(["kpop"], *WINDOW)


def test_a_post_with_its_author_four_retweets_and_two_quotes_is_shared_by_7(
    fetched: FetchResult, tmp_path: Path
) -> None:
    posts = stored(fetched, tmp_path)
    reposts = [p for p in posts if p.repost_of == ORIGINAL_URL]
    assert len(reposts) == 4 and all(p.is_repost and not p.text for p in reposts)
    digest = build_digest_from_posts(posts, ANA, {"kpop": "#kpop on X"}, NOW, WINDOW)
    [entry] = [e for e in (*digest.entries, *digest.also) if e.post.external_id == ORIGINAL]
    assert len(entry.sharers) == 7
    # The author first, then the most recognisable: the quoters, whose posts drew
    # likes, before the retweeters; a retweeter who shared two of the day's
    # posts before those who shared one.
    assert [sharer.author for sharer in entry.sharers] == [
        "Thai Enquirer (@ThaiEnquirer)",
        "Quinn Ortiz (@qortiz)",
        "Rhea Lane (@rlane)",
        "🐥 (@thepinkslalisam)",
        "Rosie (@Nseta3)",
        "Lana|♕ SNOWDROP ♕ (@LaLizAln)",
        "𝕋𝕃⁷⁴🧚\u200d♀️เทพธิดาปือปือ💚💛สตรีมLALISA !!!! (@AbNamtarn)",
    ]
    # It looks like spam (hashtag-stuffed), so the digest lists it as a headline,
    # which carries no "Shared by" line; an entry of it says:
    assert shared_by(entry.sharers, network_labels()).startswith(
        "Shared by 7 people in your network: Thai Enquirer (@ThaiEnquirer) (X),"
        " Quinn Ortiz (@qortiz) (X), Rhea Lane (@rlane) (X)"
    )


def test_a_repost_makes_no_story_and_no_entry_of_its_own(
    fetched: FetchResult, tmp_path: Path
) -> None:
    posts = stored(fetched, tmp_path)
    stories = cluster_posts(posts)
    assert not any(story.lead.is_repost for story in stories)
    [story] = [s for s in stories if any(p.external_id == ORIGINAL for p in s.posts)]
    assert len(story.posts) == 7 and len(story.own_posts) == 3  # the original, two quotes
    # Every retweet of a post of the window is in that post's story; the
    # others (of posts from before the window) are in none.
    story_of = {p.external_id: s for s in stories for p in s.posts}
    originals = {p.url: p.external_id for p in posts if not p.is_repost}
    for repost in (p for p in posts if p.is_repost):
        if repost.repost_of in originals:
            assert story_of[repost.external_id] is story_of[originals[repost.repost_of]]
        else:
            assert repost.external_id not in story_of
    assert len(stories) == len({s.lead.url for s in stories})
    digest = build_digest_from_posts(posts, ANA, {}, NOW, WINDOW)
    assert not any(e.post.is_repost for e in (*digest.entries, *digest.also))
    lines = explain_lines(digest)
    assert sum(line.startswith("        + reposted: [kpop, twitter, ") for line in lines) >= 4


def test_boosts_count_their_boosters_once_each() -> None:
    original = load_interaction("mastodon/mastodon_social_status.0.interaction.json")["response"][
        "json"
    ]
    boosts = [
        {
            "id": f"11500000000000000{n}",
            "created_at": "2025-08-20T10:00:00.000Z",
            "reblog": original,
            "account": {
                "id": f"9{n}",
                "username": f"booster{n}",
                "acct": f"booster{n}@teach.example",
                "display_name": f"Booster {n}",
                "url": f"https://teach.example/@booster{n}",
            },
            "content": "",
        }
        for n in range(3)
    ]
    now = datetime(2025, 8, 21, tzinfo=UTC)
    posts, malformed = mastodon_posts(
        [*boosts, original, boosts[0]], "scied", "mastodon.social", now
    )
    assert malformed == 0
    assert sum(not p.is_repost for p in posts) == 1 and sum(p.is_repost for p in posts) == 3
    [story] = cluster_posts(posts)
    assert not story.lead.is_repost
    assert [s.author for s in story.sharers][1:] == [
        f"Booster {n} (@booster{n}@teach.example)" for n in range(3)
    ]


def test_quote_posts_on_bluesky_count_as_shares() -> None:
    """@chriskenny quotes @bskyr's post and @randvegan quotes @chriskenny's:
    one story, shared by three (the recorded getQuotes answer)."""
    quotes = load_interaction("bluesky/getQuotes.interaction.json")["response"]["json"]["posts"]
    now = datetime(2025, 1, 1, tzinfo=UTC)
    quoted = quotes[1]["embed"]["record"]["record"]  # the viewRecord of @bskyr's post
    original = bluesky_post(
        {
            "uri": quoted["uri"],
            "cid": quoted["cid"],
            "author": quoted["author"],
            "record": quoted["value"],
            "indexedAt": quoted["indexedAt"],
        },
        "bsky",
        now,
    )
    posts = [original, *(bluesky_post(q, "bsky", now) for q in quotes)]
    [story] = cluster_posts(posts)
    assert [s.author.split(" (@")[-1] for s in story.sharers] == sorted(
        [s.author.split(" (@")[-1] for s in story.sharers],
        key=lambda handle: handle != story.lead.author.split(" (@")[-1],
    )
    assert {s.author.split("(@")[-1].rstrip(")") for s in story.sharers} == {
        "bskyr.bsky.social",
        "chriskenny.bsky.social",
        "randvegan.bsky.social",
    }

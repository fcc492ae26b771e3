"""A digest is the same built alone (`pln digest`) and inside a send batch of many.

A batch reads its recipients' posts once and tests the near-identical
pairs of all of them once (`aggregator.app.build.Batch`); what a recipient
gets must still depend on their own sources alone: not on who else is in
the batch, nor on the posts of sources only others follow.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.app.build import build_digest, start_batch
from aggregator.app.wiring import App, build_app
from aggregator.config.types import Config, DatabaseConfig
from aggregator.domain.feedback import Leaning, LeaningKind
from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, SourceConfig
from digests import cluster, nearby

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
SOURCES = [f"s{n}" for n in range(12)]
WORDS = (
    "lesson students rubric feedback inquiry phenomena retrieval practice exit ticket "
    "classroom reading writing science maths history project assessment formative summative "
    "groups discussion homework notebook lab model evidence claim reasoning vocabulary"
).split()
ARTICLES = [f"https://www.blog{n}.example/posts/{n}-article" for n in range(6)]
# Announcements cross-posted to many sources, a word or two edited each time.
ANNOUNCEMENTS = [
    " ".join(random.Random(n).choices(WORDS, k=random.Random(n).choice((12, 30, 80))))
    for n in range(5)
]


def _post(rng: random.Random, source: str, n: int) -> Post:
    kind = rng.random()
    text = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
    links: tuple[str, ...] = ()
    if kind < 0.3:
        words = rng.choice(ANNOUNCEMENTS).split()
        words[rng.randrange(len(words))] = rng.choice(WORDS)
        text = " ".join(words)
    elif kind < 0.5:
        links = (rng.choice(ARTICLES) + rng.choice(("", "?utm_source=x", "/")),)
    elif kind < 0.55:
        text = "GIVEAWAY! follow and RT to win #crypto " + text
    elif kind < 0.6:
        text = f"Join our webinar on {text}"
    likes = int(rng.lognormvariate(1.5, 1.4))
    return Post(
        source_key=source,
        external_id=f"{source}-{n}",
        network=rng.choice(("twitter", "mastodon", "bluesky")),
        url=f"https://social.example/{source}/{n}",
        author=f"Author {rng.randint(0, 15)}",
        title=None,
        text=text,
        html="",
        published_at=NOW - timedelta(hours=rng.uniform(0, 30)),
        links=links,
        engagement=Engagement(likes=likes, reposts=likes // 3, replies=likes // 5),
    )


def _recipients() -> list[RecipientConfig]:
    rng = random.Random(7)
    return [
        RecipientConfig(
            email=f"teacher{n}@school.example",
            timezone="America/Chicago",
            reading_minutes=rng.choice((3, 5, 10)),
            follow=tuple(rng.sample(SOURCES, rng.randint(2, 6))),
            mute=("webinar",) if n % 2 else (),
            boost=("formative assessment",) if n % 3 == 0 else (),
        )
        for n in range(12)
    ]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    yield from _app(tmp_path_factory.mktemp("batch"))


def _app(folder: Path) -> Iterator[App]:
    config = Config(
        database=DatabaseConfig(f"sqlite:///{folder}/pln.db"),
        sources=tuple(SourceConfig(key=key, kind="rss", name=key.upper()) for key in SOURCES),
        recipients=tuple(_recipients()),
    )
    rng = random.Random(2026)
    with build_app(config, clock=lambda: NOW, connectors={}) as app:
        for source in SOURCES:
            posts = tuple(_post(rng, source, n) for n in range(60))
            app.repo.save_fetch(source, FetchResult(posts=posts), NOW, NOW)
        yield app


def _alone_and_batched(app: App) -> None:
    recipients = list(app.config.recipients)
    alone = {r.email: build_digest(app, r, NOW) for r in recipients}
    with start_batch(app, recipients, NOW) as batch:
        for recipient in recipients:
            assert build_digest(app, recipient, NOW, batch) == alone[recipient.email]
    for recipient in recipients:
        # In a batch of one too: the pool then holds their own sources only.
        with start_batch(app, [recipient], NOW) as own:
            assert build_digest(app, recipient, NOW, own) == alone[recipient.email]


def test_a_digest_is_the_same_alone_and_in_a_batch(app: App) -> None:
    digests = [build_digest(app, r, NOW) for r in app.config.recipients]
    # The corpus has what the batch works out once: stories of several posts
    # joined by text alone, and muted posts.
    assert any(len(d.ranked.story.posts) > 1 for digest in digests for d in digest.decisions)
    assert any(digest.muted for digest in digests)
    _alone_and_batched(app)


def test_crowded_buckets_are_judged_by_each_digest_own_posts(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits, so that buckets are crowded in the batch's pool but not in
    # every digest, and some too full for the pool to test their pairs at all.
    monkeypatch.setattr(cluster, "MAX_BUCKET", 4)
    monkeypatch.setattr(nearby, "MAX_BUCKET", 4)
    monkeypatch.setattr(nearby, "POOL_BUCKET", 8)
    _alone_and_batched(app)


def test_a_batch_keeps_what_it_holds_from_the_collector_only_while_it_lasts(app: App) -> None:
    # What a batch holds is frozen (gc.freeze) while its digests are built;
    # left frozen, garbage cycles made meanwhile would never be collected.
    assert gc.get_freeze_count() == 0
    with start_batch(app, list(app.config.recipients), NOW) as batch:
        assert gc.get_freeze_count() > 0
        assert build_digest(app, app.config.recipients[0], NOW, batch).entries
    assert gc.get_freeze_count() == 0


def test_a_batch_reads_each_teachers_last_digest_and_feedback_as_a_lone_digest_does(
    tmp_path: Path,
) -> None:
    for app in _app(tmp_path):
        ana, ben, *others = app.config.recipients
        # Ana was sent a digest six hours ago: hers covers the six hours since.
        earlier = NOW - timedelta(hours=6)
        claim = app.repo.claim_delivery(ana.email, earlier.date(), earlier, timedelta(minutes=5))
        assert claim is not None
        app.repo.mark_unknown(claim, "<earlier@x>", earlier, 3, earlier)
        app.repo.mark_sent(claim, earlier)
        # Ben asked for less of what leads his digest.
        lead = build_digest(app, ben, NOW).entries[0].post
        less = [Leaning(LeaningKind.SOURCE, lead.source_key, -1)]
        app.repo.record_leanings(ben.email, less, NOW)
        alone = [build_digest(app, r, NOW) for r in (ana, ben, *others)]
        assert alone[0].window_start == earlier
        [asked] = [d for d in alone[1].decisions if d.ranked.story.lead == lead]
        assert asked.ranked.score.feedback < 0
        with start_batch(app, [ana, ben, *others], NOW) as batch:
            assert [build_digest(app, r, NOW, batch) for r in (ana, ben, *others)] == alone


def test_every_story_has_one_decision_in_rank_order_though_a_send_reads_only_the_best(
    app: App,
) -> None:
    undecided = 0
    with start_batch(app, list(app.config.recipients), NOW) as batch:
        for recipient in app.config.recipients:
            digest = build_digest(app, recipient, NOW, batch)
            made = list(digest.decisions.made)
            shown = {(e.post.source_key, e.post.external_id) for e in digest.entries}
            shown |= {(e.post.source_key, e.post.external_id) for e in digest.also}
            # What the send reads holds every story it shows...
            assert shown <= {
                (d.shown.post.source_key, d.shown.post.external_id)
                for d in made
                if d.shown is not None
            }
            # ...and `--explain` reads on: one decision per story, best first.
            decisions = list(digest.decisions)
            assert [d.ranked.rank for d in decisions] == list(range(1, len(decisions) + 1))
            assert decisions[: len(made)] == made
            assert all(
                d.placement == "skipped"
                and (d.reason == "over the reading time" or d.reason.startswith("author cap"))
                for d in decisions[len(made) :]
            )
            undecided += len(decisions) - len(made)
    # Digests of a busy day leave stories undecided until asked.
    assert undecided > 0


def test_a_post_shares_a_story_only_with_sources_the_teacher_follows(tmp_path: Path) -> None:
    article = "https://www.blog.example/posts/1-article"

    def post(source: str, author: str, text: str, hours_ago: int, *links: str) -> Post:
        return Post(
            source_key=source,
            external_id=f"{source}-1",
            network="mastodon",
            url=f"https://social.example/{source}/1",
            author=author,
            title=None,
            text=text,
            html="",
            published_at=NOW - timedelta(hours=hours_ago),
            links=links,
        )

    posts = {
        "a": post("a", "Ann", "A fine read on feedback", 2, article),
        "b": post("b", "Bo", "Everyone should read this", 3, article),
        "c": post("c", "Cy", "Exit tickets that work", 1),
    }
    both = RecipientConfig(email="both@school.example", timezone="UTC", follow=("a", "b"))
    one = RecipientConfig(email="one@school.example", timezone="UTC", follow=("a", "c"))
    config = Config(
        database=DatabaseConfig(f"sqlite:///{tmp_path}/pln.db"),
        sources=tuple(SourceConfig(key=key, kind="rss", name=key.upper()) for key in posts),
        recipients=(both, one),
    )
    with build_app(config, clock=lambda: NOW, connectors={}) as app:
        for key, post in posts.items():
            app.repo.save_fetch(key, FetchResult(posts=(post,)), NOW, NOW)
        with start_batch(app, [both, one], NOW) as batch:
            together = build_digest(app, both, NOW, batch)
            apart = build_digest(app, one, NOW, batch)
    [shared] = together.entries
    assert sorted(sharer.author for sharer in shared.sharers) == ["Ann", "Bo"]
    assert {entry.post.external_id: len(entry.sharers) for entry in apart.entries} == {
        "a-1": 1,
        "c-1": 1,
    }

""" "More / less like this" through the app: recorded, followed by the next
digest, undone, and counted per source for admins without naming anyone."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from aggregator.app.build import build_digest
from aggregator.app.feedback import (
    feedback_by_source,
    leanings_of,
    record_feedback,
    undo_feedback,
)
from aggregator.app.links import FeedbackTarget
from aggregator.app.wiring import App, build_app
from aggregator.domain.feedback import LeaningKind
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from aggregator.store.feedback import SourceLeanings
from tests.fakes import T0, FixedClock, make_config, make_post

ANA = RecipientConfig(email="ana@school.org", send_at="11:30", follow=("blog", "pod"))
BEN = RecipientConfig(email="ben@school.org", send_at="11:30", follow=("blog", "pod"))


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    config = make_config(db_url, ["blog", "pod"], (ANA, BEN))
    with build_app(config, FixedClock(), connectors={}) as app:
        blog = make_post("blog", 1, at=T0 - timedelta(hours=1), title="Fresh blog idea")
        pod = make_post("pod", 2, at=T0 - timedelta(hours=3), title="Older podcast episode")
        app.repo.save_fetch("blog", FetchResult((blog,)), T0, T0 + timedelta(hours=1))
        app.repo.save_fetch("pod", FetchResult((pod,)), T0, T0 + timedelta(hours=1))
        yield app


def order(app: App, who: RecipientConfig) -> list[str]:
    digest = build_digest(app, who, app.clock())
    return [e.post.source_key for e in (*digest.entries, *digest.also)]


def test_less_like_this_is_followed_by_the_next_digest_and_can_be_undone(app: App) -> None:
    assert order(app, ANA) == ["blog", "pod"]
    recorded = record_feedback(app, FeedbackTarget(ANA.email, "blog", "blog-1"), more=False)
    assert [(lean.kind, lean.direction) for lean in recorded] == [
        (LeaningKind.SOURCE, -1),
        (LeaningKind.AUTHOR, -1),
    ]
    assert order(app, ANA) == ["pod", "blog"]
    assert order(app, BEN) == ["blog", "pod"]  # Ana's choice is hers alone
    # As a send batch reads them, for all its teachers at once.
    assert app.repo.leanings_of([ANA.email, BEN.email]) == {ANA.email: leanings_of(app, ANA.email)}
    for lean in leanings_of(app, ANA.email).items:
        assert undo_feedback(app, ANA.email, lean.kind, lean.value)
    assert order(app, ANA) == ["blog", "pod"]
    assert not undo_feedback(app, ANA.email, LeaningKind.SOURCE, "blog")


def test_tapping_again_or_changing_ones_mind_keeps_one_choice(app: App) -> None:
    target = FeedbackTarget(ANA.email, "blog", "blog-1")
    record_feedback(app, target, more=True)
    record_feedback(app, target, more=True)  # a replayed tap
    record_feedback(app, target, more=False)
    assert {lean.direction for lean in leanings_of(app, ANA.email).items} == {-1}
    assert len(leanings_of(app, ANA.email).items) == 2


def test_a_story_no_longer_stored_still_records_its_source(app: App) -> None:
    recorded = record_feedback(app, FeedbackTarget(ANA.email, "pod", "gone-99"), more=True)
    assert [(lean.kind, lean.value) for lean in recorded] == [(LeaningKind.SOURCE, "pod")]


def test_admins_see_counts_per_source_and_no_one_by_name(app: App) -> None:
    record_feedback(app, FeedbackTarget(ANA.email, "blog", "blog-1"), more=True)
    record_feedback(app, FeedbackTarget(BEN.email, "blog", "blog-1"), more=False)
    record_feedback(app, FeedbackTarget(BEN.email, "pod", "pod-2"), more=True)
    summary = feedback_by_source(app)
    assert summary == [SourceLeanings("blog", 1, 1), SourceLeanings("pod", 1, 0)]
    assert not any(
        "school.org" in str(value) for row in summary for value in dataclasses.astuple(row)
    )

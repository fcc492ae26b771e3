""" "More / less like this": recording a teacher's taps, undoing them, and
what admins see of them (counts per source, no one named).

A tap records the story's source, author and topic
(`aggregator.domain.feedback.leanings_from`); the next digests rank by them
(`digests.rank`, given `leanings_of`). The teacher sees and undoes them on
the manage page.
"""

from __future__ import annotations

import logging

from aggregator.app.links import FeedbackTarget
from aggregator.app.wiring import App
from aggregator.domain.feedback import Leaning, LeaningKind, Leanings, leanings_from
from aggregator.domain.post import Post
from aggregator.store.feedback import SourceLeanings

__all__ = [
    "SourceLeanings",
    "feedback_by_source",
    "leanings_of",
    "record_feedback",
    "story_of",
    "undo_feedback",
]

log = logging.getLogger(__name__)


def story_of(app: App, target: FeedbackTarget) -> Post | None:
    """The post a feedback link names, or None when it is no longer stored."""
    return app.repo.find_post(target.source_key, target.external_id)


def record_feedback(app: App, target: FeedbackTarget, more: bool) -> tuple[Leaning, ...]:
    """Record "more like this" (`more`) or "less like this" on the post
    `target` names, for its recipient; returns the leanings recorded (the
    source alone when the post is no longer stored). Raises StorageError."""
    post = story_of(app, target)
    direction = 1 if more else -1
    leanings: tuple[Leaning, ...]
    if post is None:
        leanings = (Leaning(LeaningKind.SOURCE, target.source_key, direction),)
    else:
        leanings = leanings_from(post, direction)
    app.repo.record_leanings(target.email, leanings, app.clock())
    log.info("%s: %s like %s", target.email, "more" if more else "less", target.source_key)
    return leanings


def undo_feedback(app: App, email: str, kind: LeaningKind, value: str) -> bool:
    """Forget one of `email`'s leanings; False when it was not there."""
    return app.repo.forget_leaning(email, kind, value)


def leanings_of(app: App, email: str) -> Leanings:
    """`email`'s leanings, newest first, for ranking and the manage page."""
    return app.repo.leanings(email)


def feedback_by_source(app: App) -> list[SourceLeanings]:
    """Per source, how many teachers asked for more and for less of it
    ("what teachers value"); sources nobody spoke of are left out."""
    return app.repo.leanings_by_source()

"""Keeping the database to `[storage] keep_days`: pruning old posts and archived digests.

Posts older than keep_days (by publication and by when they were stored)
are deleted; those a sent digest showed stay, as the archive of what
teachers were sent (`aggregator.store.retention`). `pln run` prunes once a
day (`DailyPruner`), `pln fetch` after every fetch: pruning is idempotent,
so running it again, or after a crash, changes nothing more.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from aggregator.app.wiring import App
from aggregator.domain.logfmt import fields
from aggregator.store.retention import PostCounts

__all__ = ["DailyPruner", "PostCounts", "post_counts", "prune_old_posts"]

log = logging.getLogger(__name__)


def prune_old_posts(app: App) -> int:
    """Delete the posts older than `[storage] keep_days` that no sent digest
    showed, and the archived copies of digests sent before then; returns
    how many posts were deleted. Raises `StorageError`."""
    keep_days = app.config.storage.keep_days
    before = app.clock() - timedelta(days=keep_days)
    pruned = app.repo.prune_posts(before)
    copies = app.repo.prune_archive(before)
    log.info(
        "pruned %d posts and %d archived digests older than %d days",
        pruned,
        copies,
        keep_days,
        extra=fields(event="prune", pruned=pruned, archived=copies, keep_days=keep_days),
    )
    return pruned


def post_counts(app: App) -> PostCounts:
    """Posts stored, and those kept for the archive (for `pln status`)."""
    return app.repo.post_counts()


class DailyPruner:
    """A `pln run` hook: prunes at the first tick of each UTC day (and at start)."""

    def __init__(self) -> None:
        self._pruned_on: date | None = None

    def __call__(self, app: App) -> None:
        """Prune if this UTC day has not been pruned yet by this process."""
        today = app.clock().date()
        if self._pruned_on == today:
            return
        prune_old_posts(app)
        self._pruned_on = today

"""The archive of what was sent: "view in browser", past digests, `pln digest --date`.

Each digest is kept as it was sent (see `aggregator.store.archive`) for
`[storage] keep_days`; these functions read it back for the web pages,
the admin's preview and the command line.
"""

from __future__ import annotations

from datetime import date

from aggregator.app.wiring import App
from aggregator.domain.archive import ArchivedDigest

__all__ = ["past_digests", "sent_digest"]


def sent_digest(app: App, email: str, local_day: date) -> ArchivedDigest | None:
    """`email`'s digest of `local_day` exactly as it was sent, or None when
    none went out that day (or it is older than `[storage] keep_days`).
    Raises StorageError."""
    return app.repo.archived_digest(email, local_day)


def past_digests(app: App, email: str) -> list[ArchivedDigest]:
    """`email`'s archived digests, newest first. Raises StorageError."""
    return app.repo.archived_digests(email)

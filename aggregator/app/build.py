"""Building one recipient's digest from the database: the digest orchestrator.

The pure work (window, selection, budget) lives in `digests.compose`; this
module only reads what it needs from the repository and renders, naming
each network as its connector labels it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aggregator.app.archive import sent_digest
from aggregator.app.preferences import effective_recipient
from aggregator.app.wiring import App
from aggregator.domain.errors import PLNError
from aggregator.domain.feedback import NO_LEANINGS, Leanings
from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from connectors import network_labels
from digests.compose import Digest, build_digest_from_posts, digest_window
from digests.due import send_instant
from digests.explain import explain_lines
from digests.memo import DigestMemo
from digests.nearby import NearPairs
from digests.render import DigestLinks, render_html, render_text
from digests.sources import PostsBySource

log = logging.getLogger(__name__)

DAYS = (date(1970, 1, 1), date(9999, 12, 30))
"""The local days a digest can be built for: none is older than any post
(1970), and a send time on the last one is still a date in every time zone."""


@dataclass(frozen=True)
class Batch:
    """What the digests of one batch, all built at `now`, share: the posts of
    the sources they follow over the longest window any of them can have
    (read once, newest first, each source's at `positions` in `posts`), and
    the `DigestMemo` that works out what is costly about each post once;
    and, read once for all its recipients, when each was last sent a digest
    and their "more / less like this" (by address; none: never, nothing)."""

    now: datetime
    since: datetime
    posts: Sequence[Post]
    positions: dict[str, list[int]]
    memo: DigestMemo = field(default_factory=DigestMemo)
    recipients: frozenset[str] = frozenset()
    last_digests: Mapping[str, datetime] = field(default_factory=dict)
    leanings: Mapping[str, Leanings] = field(default_factory=dict)
    by_source: dict[tuple[str, datetime], tuple[Post, ...]] = field(default_factory=dict)

    def __enter__(self) -> Batch:
        """The batch while its digests are built: what it holds (its posts,
        what its memo knows of them) is kept out of the cyclic garbage
        collector's walks, which would otherwise go over all of it again
        every few digests: a tenth of the time of building one."""
        gc.freeze()
        return self

    def __exit__(self, *exc: object) -> None:
        gc.unfreeze()

    def posts_for(self, follow: Iterable[str], since: datetime) -> PostsBySource | None:
        """What `posts_for_digest(follow, since, now)` would read, by source:
        each source's the same tuple for every digest of the batch reading
        it since `since` (`digests.sources`); None when some of `follow` was
        not read for the batch."""
        follow = list(dict.fromkeys(follow))
        if since < self.since or any(key not in self.positions for key in follow):
            return None
        return PostsBySource(self._source_posts(key, since) for key in follow)

    def _source_posts(self, key: str, since: datetime) -> tuple[Post, ...]:
        found = self.by_source.get((key, since))
        if found is None:
            posts = self.posts
            found = tuple(posts[i] for i in self.positions[key] if posts[i].published_at >= since)
            self.by_source[(key, since)] = found
        return found


def start_batch(app: App, recipients: Iterable[RecipientConfig], now: datetime) -> Batch:
    """A `Batch` of the digests of `recipients` built at `now`: the posts of
    every source they follow, read once for all of them. Build its digests
    inside `with` it."""
    recipients = list(recipients)
    emails = frozenset(recipient.email for recipient in recipients)
    sources = sorted({key for recipient in recipients for key in recipient.follow})
    since = now - timedelta(hours=app.config.digest.max_window_hours)
    posts = app.repo.posts_for_digest(sources, since, now)
    positions: dict[str, list[int]] = {key: [] for key in sources}
    for index, post in enumerate(posts):
        positions[post.source_key].append(index)
    last_digests, leanings = app.repo.last_digests_at(emails), app.repo.leanings_of(emails)
    batch = Batch(now, since, posts, positions, DigestMemo(), emails, last_digests, leanings)
    batch.memo.pool = NearPairs(posts, batch.memo)
    return batch


def build_digest(
    app: App, recipient: RecipientConfig, now: datetime, batch: Batch | None = None
) -> Digest:
    """The digest `recipient` gets at `now`: what the sources they follow
    shared since their last digest (at most `[digest] max_window_hours` back).

    `batch`, when built at `now`, holds the posts and the memo shared by the
    digests of one batch (see `start_batch`); the digest is the same without it.
    """
    max_window = timedelta(hours=app.config.digest.max_window_hours)
    shared = None if batch is None or batch.now != now else batch
    if shared is not None and recipient.email in shared.recipients:
        last_digest = shared.last_digests.get(recipient.email)
        leanings = shared.leanings.get(recipient.email, NO_LEANINGS)
    else:
        last_digest = app.repo.last_digest_at(recipient.email)
        leanings = app.repo.leanings(recipient.email)
    window = digest_window(now, last_digest, max_window)
    grouped = None if shared is None else shared.posts_for(recipient.follow, window[0])
    posts = app.repo.posts_for_digest(recipient.follow, *window) if grouped is None else grouped
    titles = {s.key: s.title for s in app.config.sources}
    digest = build_digest_from_posts(
        posts,
        recipient,
        titles,
        now,
        window,
        app.config.digest.words_per_minute,
        None if batch is None else batch.memo,
        labels=network_labels(),
        leanings=leanings,
    )
    log.info(
        "%s: digest of %d entries from %d candidates",
        recipient.email,
        len(digest.entries),
        digest.candidate_count,
    )
    return digest


def render_digest(
    digest: Digest, fmt: str, unsubscribe_url: str = "", links: DigestLinks | None = None
) -> str:
    """`digest` rendered as `fmt` ("html" or "text"), with the networks' labels
    from the connectors' REGISTRY and the unsubscribe link when given, or
    all the links to the service (`links`)."""
    labels = network_labels()
    if fmt == "html":
        return render_html(digest, unsubscribe_url, labels=labels, links=links)
    return render_text(digest, unsubscribe_url, labels=labels, links=links)


def _digest_for(app: App, email: str, day: date | None) -> Digest:
    """The digest of the recipient with address `email`, now or at their send
    time on the local `day`; raises PLNError when there is no such recipient
    or `day` is out of `DAYS`."""
    recipient = app.config.recipient(email)
    if recipient is None:
        raise PLNError(f"no recipient {email} in {app.config.path}; check [[recipients]]")
    if day is not None and not DAYS[0] <= day <= DAYS[1]:
        raise PLNError(
            f"no digest can be built for {day.isoformat()}: give a day from "
            f"{DAYS[0].isoformat()} to {DAYS[1].isoformat()}"
        )
    recipient = effective_recipient(app, recipient)
    now = app.clock()
    at = now if day is None else send_instant(recipient, day)
    return build_digest(app, recipient, at) if at >= now else build_past_digest(app, recipient, at)


def build_past_digest(app: App, recipient: RecipientConfig, at: datetime) -> Digest:
    """The digest `recipient` got, or would have got, at the past instant `at`,
    over the longest window (`[digest] max_window_hours`): the digests sent
    since would otherwise make its window empty."""
    window = (at - timedelta(hours=app.config.digest.max_window_hours), at)
    return build_digest_from_posts(
        app.repo.posts_for_digest(recipient.follow, *window),
        recipient,
        {s.key: s.title for s in app.config.sources},
        at,
        window,
        app.config.digest.words_per_minute,
        labels=network_labels(),
        leanings=app.repo.leanings(recipient.email),
    )


def render_digest_for(app: App, email: str, fmt: str, day: date | None = None) -> str:
    """`pln digest`: the rendered digest (`fmt` "html" or "text") for one recipient,
    now or as built at their send time on the local `day`; for a day whose
    digest was sent (and is still archived), exactly what was sent.

    Raises PLNError when no recipient has that address.
    """
    if day is not None and DAYS[0] <= day <= DAYS[1]:
        sent = sent_digest(app, email, day)
        if sent is not None:
            return sent.copy.html if fmt == "html" else sent.copy.text
    return render_digest(_digest_for(app, email, day), fmt)


def explain_digest_for(app: App, email: str, day: date | None = None) -> list[str]:
    """`pln digest --explain`: why each candidate of the recipient's digest was
    chosen or skipped, with its score parts (see `digests.explain`).

    Raises PLNError when no recipient has that address.
    """
    return explain_lines(_digest_for(app, email, day))

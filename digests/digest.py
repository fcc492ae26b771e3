"""The digest as data, and the one pure function that builds it from posts.

`build_digest_from_posts` is what `digests/build.py` calls once it has read
the recipient's posts from storage: select, rank, fit to the reading budget,
then put times in the recipient's zone. Nothing here reads a clock or a
database; `render.py` turns a `Digest` into HTML and text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.models import Post, RecipientConfig
from digests.budget import WORDS_PER_MINUTE, ShownPost, fit_budget
from digests.select import rank, select_candidates

# Untitled posts (most social posts) get a headline from their first words.
HEADLINE_WORDS = 12
_SUBJECT_TITLE_CHARS = 90
# English names spelled out here so dates do not depend on the process locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One post as the digest shows it.

    `excerpt` is the plain text shown (empty for an "also" headline),
    `is_excerpt` says it was cut short; `local_time` is the publication
    time in the recipient's zone; `reading_seconds` is the estimated time
    this entry costs the reader.
    """

    post: Post
    source_title: str
    excerpt: str
    local_time: datetime
    reading_seconds: int
    is_excerpt: bool

    @property
    def headline(self) -> str:
        """The post's title on one line, or for an untitled post its first words."""
        # Whitespace collapsed: a headline may become an email subject, and a
        # line break in a header is refused (or worse, injected).
        title = " ".join((self.post.title or "").split())
        if title:
            return title
        words = self.post.text.split()
        if not words:
            return f"Post by {self.post.author}" if self.post.author else "Untitled post"
        head = " ".join(words[:HEADLINE_WORDS])
        return head + ("\u2026" if len(words) > HEADLINE_WORDS else "")


@dataclass(frozen=True, slots=True)
class Digest:
    """One recipient's digest for one local day.

    `entries` are shown in full (or as excerpts), `also` as headlines only;
    `reading_seconds` is their total estimated reading time, within the
    recipient's reading_minutes; `candidate_count` is how many posts
    qualified before the budget was applied. The window is aware UTC.
    """

    recipient: RecipientConfig
    local_day: date
    window_start: datetime
    window_end: datetime
    entries: tuple[DigestEntry, ...]
    also: tuple[DigestEntry, ...]
    reading_seconds: int
    subject: str
    candidate_count: int

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to show: the network was quiet."""
        return not self.entries and not self.also


def _require_aware(name: str, value: datetime) -> None:
    """Raise ValueError for a naive datetime: every instant here is aware UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def digest_window(
    now: datetime, last_digest_at: datetime | None, max_window: timedelta
) -> tuple[datetime, datetime]:
    """The (start, end) of what a digest built at `now` covers.

    From the last digest (or `max_window` ago when there was none), never
    further back than `max_window`, until `now`. A last digest recorded
    after `now` (a clock stepped back) gives an empty window rather than a
    negative one. Raises ValueError for naive datetimes.
    """
    _require_aware("now", now)
    earliest = now - max_window
    if last_digest_at is None:
        return earliest, now
    _require_aware("last_digest_at", last_digest_at)
    return min(max(last_digest_at, earliest), now), now


def format_day(day: date, *, is_long: bool = False) -> str:
    """An English date: "Mon 30 Nov", or "Monday 30 November" when `is_long`."""
    weekday, month = WEEKDAYS[day.weekday()], MONTHS[day.month - 1]
    if is_long:
        return f"{weekday} {day.day} {month}"
    return f"{weekday[:3]} {day.day} {month[:3]}"


def make_subject(local_day: date, entries: Sequence[DigestEntry]) -> str:
    """The email subject: the day and the top story, or that nothing is new."""
    if entries:
        top = entries[0].headline
        if len(top) > _SUBJECT_TITLE_CHARS:
            top = top[: _SUBJECT_TITLE_CHARS - 1].rstrip() + "\u2026"
    else:
        top = "nothing new today"
    return f"Your PLN digest \u2014 {format_day(local_day)}: {top}"


def _to_entry(shown: ShownPost, source_titles: Mapping[str, str], zone: ZoneInfo) -> DigestEntry:
    """A budgeted post with its source's display name and its local time."""
    post = shown.post
    return DigestEntry(
        post=post,
        source_title=source_titles.get(post.source_key, post.source_key),
        excerpt=shown.excerpt,
        local_time=post.published_at.astimezone(zone),
        reading_seconds=shown.reading_seconds,
        is_excerpt=shown.is_excerpt,
    )


def build_digest_from_posts(
    posts: Sequence[Post],
    recipient: RecipientConfig,
    source_titles: Mapping[str, str],
    now: datetime,
    window: tuple[datetime, datetime],
    words_per_minute: int = WORDS_PER_MINUTE,
) -> Digest:
    """The recipient's digest for `window`, from the posts of what they follow.

    `source_titles` maps source keys to the names shown (the key itself is
    shown when missing). The local day is `now` in the recipient's zone.
    Raises ValueError for a naive `now` or a non-positive
    `words_per_minute`, and zoneinfo.ZoneInfoNotFoundError for an unknown
    time zone (configuration validation should have caught it).
    """
    _require_aware("now", now)
    zone = ZoneInfo(recipient.timezone)
    window_start, window_end = window
    candidates = select_candidates(posts, recipient, window_start, window_end)
    ranked = rank(candidates, recipient, now)
    shown, headlines = fit_budget(ranked, recipient.reading_minutes, words_per_minute)
    entries = tuple(_to_entry(item, source_titles, zone) for item in shown)
    also = tuple(_to_entry(item, source_titles, zone) for item in headlines)
    local_day = now.astimezone(zone).date()
    return Digest(
        recipient=recipient,
        local_day=local_day,
        window_start=window_start,
        window_end=window_end,
        entries=entries,
        also=also,
        reading_seconds=sum(entry.reading_seconds for entry in (*entries, *also)),
        subject=make_subject(local_day, entries or also),
        candidate_count=len(candidates),
    )

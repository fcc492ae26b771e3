"""The digest as data, and the one pure function that builds it from posts.

`build_digest_from_posts` is what `digests/build.py` calls once it has read
the recipient's posts from storage: select (window, follows, mutes), cluster
into stories, rank, choose within the reading time and diversity rules,
then put times in the recipient's zone. Nothing here reads a clock or a
database; `render.py` turns a `Digest` into HTML and text, `explain.py`
into the reasons behind it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from digests.budget import WORDS_PER_MINUTE, shows_html
from digests.choose import ALSO, ENTRY, Decision, Limits, plan_digest
from digests.cluster import PairMemo, Sharer, cluster_posts
from digests.lede import lede_line
from digests.links import clean_text_links, entry_links
from digests.pictures import picture_alt, picture_of
from digests.rank import rank_stories
from digests.select import select_candidates

# Untitled posts (most social posts) get a headline from their first words.
HEADLINE_WORDS = 12
# The "in one minute" block and the "Top stories" section hold this many.
TOP_STORIES = 3
_SUBJECT_TITLE_CHARS = 90
# English names spelled out here so dates do not depend on the process locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def first_line(words: Sequence[str]) -> str:
    """A headline for an untitled post: its first sentence when that is short,
    else its first HEADLINE_WORDS words and an ellipsis."""
    for count, word in enumerate(words[: HEADLINE_WORDS + 4], 1):
        if word.endswith((".", "?", "!")):
            return " ".join(words[:count])
    if len(words) <= HEADLINE_WORDS:
        return " ".join(words)
    # Punctuation before the ellipsis reads as a typo: "year:…".
    return " ".join(words[:HEADLINE_WORDS]).rstrip(",;:-\u2013\u2014") + "\u2026"


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One post as the digest shows it.

    `post` is the story's lead post. `excerpt` is the plain text shown
    (empty for an "also" headline), `is_excerpt` says it was cut short,
    `shows_html` that the post's own sanitised HTML is shown instead;
    `local_time` is the publication time in the recipient's zone;
    `reading_seconds` is the estimated time this entry costs the reader.
    `sharers` are the people who shared the story (at least the lead's
    author) and `engagement` adds up the counts of all their posts.
    `link` is where the headline goes, `post_link` the post's own page when
    that is another one (see `digests.links`); both free of click tracking,
    like the URLs in `excerpt`. `image_url` is the picture a top story
    shows ("" for none, and for the other entries), `image_alt` its alt
    text (see `digests.pictures`). `lede` is the one line "In one minute"
    gives the story: what its lede says (`digests.lede`).
    """

    post: Post
    source_title: str
    excerpt: str
    local_time: datetime
    reading_seconds: int
    is_excerpt: bool
    sharers: tuple[Sharer, ...] = ()
    engagement: Engagement = Engagement()
    shows_html: bool = False
    link: str = ""
    post_link: str = ""
    image_url: str = ""
    image_alt: str = ""
    lede: str = ""

    @property
    def headline(self) -> str:
        """The post's title on one line, or for an untitled post its first words."""
        # Whitespace collapsed: a headline may become an email subject, and a
        # line break in a header is refused (or worse, injected).
        title = " ".join((self.post.title or "").split())
        if title:
            return title
        words = clean_text_links(self.post.text).split()
        if not words:
            return f"Post by {self.post.author}" if self.post.author else "Untitled post"
        return first_line(words)


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
    decisions: tuple[Decision, ...] = ()
    muted: tuple[tuple[Post, str], ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to show: the network was quiet."""
        return not self.entries and not self.also

    @property
    def top(self) -> tuple[DigestEntry, ...]:
        """The stories of "In one minute": the first TOP_STORIES of entries, then headlines."""
        return (*self.entries, *self.also)[:TOP_STORIES]

    @property
    def sections(self) -> tuple[tuple[str, tuple[DigestEntry, ...]], ...]:
        """Entries as the reader scans them: "Top stories" first, then one
        section per source (a hashtag, group or feed), best section first."""
        rest: dict[str, list[DigestEntry]] = {}
        for entry in self.entries[TOP_STORIES:]:
            rest.setdefault(entry.source_title, []).append(entry)
        sections = [("Top stories", self.entries[:TOP_STORIES])] if self.entries else []
        sections.extend((title, tuple(items)) for title, items in rest.items())
        return tuple(sections)


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


def _total_engagement(posts: Sequence[Post]) -> Engagement:
    """The counts of all the story's posts added up."""
    return Engagement(
        likes=sum(p.engagement.likes for p in posts),
        reposts=sum(p.engagement.reposts for p in posts),
        replies=sum(p.engagement.replies for p in posts),
        quotes=sum(p.engagement.quotes for p in posts),
    )


def _to_entry(decision: Decision, source_titles: Mapping[str, str], zone: ZoneInfo) -> DigestEntry:
    """A chosen story with its source's display name and its local time."""
    shown, story = decision.shown, decision.ranked.story
    assert shown is not None  # entries and headlines always have what is shown
    post = shown.post
    links = entry_links(post)
    return DigestEntry(
        post=post,
        source_title=source_titles.get(post.source_key, post.source_key),
        excerpt=clean_text_links(shown.excerpt),
        local_time=post.published_at.astimezone(zone),
        reading_seconds=shown.reading_seconds,
        is_excerpt=shown.is_excerpt,
        sharers=story.sharers,
        engagement=_total_engagement(story.posts),
        shows_html=shows_html(shown),
        link=links.page,
        post_link=links.post,
        lede=lede_line(post, clean_text_links(post.text)),
    )


def _with_picture(entry: DigestEntry) -> DigestEntry:
    """A top story with the picture its post carries, if any may be shown."""
    image = picture_of(entry.post, entry.shows_html)
    if not image:
        return entry
    alt = picture_alt(entry.headline, entry.source_title)
    return dataclasses.replace(entry, image_url=image, image_alt=alt)


def build_digest_from_posts(
    posts: Sequence[Post],
    recipient: RecipientConfig,
    source_titles: Mapping[str, str],
    now: datetime,
    window: tuple[datetime, datetime],
    words_per_minute: int = WORDS_PER_MINUTE,
    memo: PairMemo | None = None,
) -> Digest:
    """The recipient's digest for `window`, from the posts of what they follow.

    `source_titles` maps source keys to the names shown (the key itself is
    shown when missing). The local day is `now` in the recipient's zone.
    `memo` carries near-identical verdicts over from the other digests of
    a batch (`digests.cluster.PairMemo`); the digest is the same without it.
    Raises ValueError for a naive `now` or a non-positive
    `words_per_minute`, and zoneinfo.ZoneInfoNotFoundError for an unknown
    time zone (configuration validation should have caught it).
    """
    _require_aware("now", now)
    if words_per_minute <= 0:
        raise ValueError(f"words_per_minute must be positive, not {words_per_minute}")
    zone = ZoneInfo(recipient.timezone)
    selection = select_candidates(posts, recipient, *window)
    ranked = rank_stories(cluster_posts(selection.kept, memo), recipient, now)
    limits = Limits(recipient.reading_minutes * 60, words_per_minute=words_per_minute)
    decisions = plan_digest(ranked, limits)
    entries = tuple(_to_entry(d, source_titles, zone) for d in decisions if d.placement == ENTRY)
    entries = (*map(_with_picture, entries[:TOP_STORIES]), *entries[TOP_STORIES:])
    also = tuple(_to_entry(d, source_titles, zone) for d in decisions if d.placement == ALSO)
    local_day = now.astimezone(zone).date()
    return Digest(
        recipient=recipient,
        local_day=local_day,
        window_start=window[0],
        window_end=window[1],
        entries=entries,
        also=also,
        reading_seconds=sum(entry.reading_seconds for entry in (*entries, *also)),
        subject=make_subject(local_day, entries or also),
        candidate_count=len(selection.kept),
        decisions=tuple(decisions),
        muted=selection.muted,
    )

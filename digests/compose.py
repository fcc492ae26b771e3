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
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.domain.feedback import NO_LEANINGS, Leanings
from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from digests.activity import WindowActivity
from digests.budget import WORDS_PER_MINUTE, as_headline, shows_html
from digests.choose import ALSO, ENTRY, OVER_TIME, SKIPPED, Decision, Decisions, plan_digest
from digests.cluster import Sharer, cluster_posts
from digests.fit import (
    ESTIMATE_FROM,
    Wording,
    also_words,
    entry_words,
    fitting,
    limits_for,
    seconds_for,
    sections_of,
    total_words,
)
from digests.lede import shown_lede
from digests.links import clean_text_links, safe_href
from digests.memo import DigestMemo
from digests.pictures import picture_alt, picture_of
from digests.rank import rank_stories
from digests.sources import (
    PostsBySource,
    SourceWindow,
    bucket_size_of,
    joinable,
    source_windows,
)
from digests.wording import MONTHS, TOP_STORIES, WEEKDAYS, format_day, headline_of

__all__ = [
    "MONTHS",
    "TOP_STORIES",
    "WEEKDAYS",
    "Digest",
    "DigestEntry",
    "build_digest_from_posts",
    "digest_window",
    "format_day",
    "make_subject",
]

_SUBJECT_TITLE_CHARS = 90
# Of the stories choose.py had no room for (OVER_TIME), how many the exact
# count may still add as headlines.
_SPARE_HEADLINES = 12
# An untitled post's headline is its first words: only the start is read.
_HEADLINE_SCAN_CHARS = 600


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One post as the digest shows it.

    `post` is the story's lead post; `headline` its title, or the first
    words of an untitled post. `excerpt` is the plain text shown
    (empty for an "also" headline), `is_excerpt` says it was cut short,
    `shows_html` that the post's own sanitised HTML is shown instead;
    `local_time` is the publication time in the recipient's zone.
    `sharers` are the people who shared the story (at least the lead's
    author) and `engagement` adds up the counts of all their posts.
    `link` is where the headline goes, `post_link` the post's own page when
    that is another one (see `digests.links`); both free of click tracking,
    like the URLs in `excerpt`. `image_url` is the picture a top story
    shows ("" for none, and for the other entries), `image_alt` its alt
    text (see `digests.pictures`). `lede` is the one line "In one minute"
    gives the story: what its lede says (`digests.lede`; worked out for the
    top stories only, "" for the others).
    `words` is what the entry adds to the text version, word for word, and
    `reading_seconds` that at the digest's words per minute; `rank` is the
    story's rank among the day's stories.
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
    headline: str = ""
    words: int = 0
    rank: int = 0

    @property
    def link_label(self) -> str:
        """What the text version calls `link`: the rest of the post, the
        original, or the page an untitled post shares."""
        if safe_href(self.post_link):
            return "Shared link"
        return "Read the rest" if self.is_excerpt else "Original"


@dataclass(frozen=True, slots=True)
class Digest:
    """One recipient's digest for one local day.

    `entries` are shown in full (or as excerpts), `also` as headlines only;
    `words` counts every word of the text version (titles, bylines, link
    labels, URLs, the header and footer: `str.split`, as `wc -w` counts)
    and `reading_seconds` is that at `words_per_minute`, within the
    recipient's reading_minutes; `candidate_count` is how many posts
    qualified before the budget was applied. The window is aware UTC.
    `decisions` says what became of every story and why (the stories
    nothing was made of are decided only when read: `--explain` reads
    them, a send does not); `muted` lists the posts a mute word dropped.
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
    decisions: Decisions = field(default_factory=Decisions)
    muted: tuple[tuple[Post, str], ...] = ()
    words: int = 0
    words_per_minute: int = WORDS_PER_MINUTE

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to show: the network was quiet."""
        return not self.entries and not self.also

    @property
    def shown_posts(self) -> tuple[tuple[str, str], ...]:
        """(source key, external id) of the posts the digest shows, in order:
        each story's posts (its lead, then those whose sharers it names)."""
        stories = {
            _key(d.shown.post): d.ranked.story.posts
            for d in self.decisions.made
            if d.shown is not None and d.placement != SKIPPED
        }
        shown = (
            _key(post)
            for entry in (*self.entries, *self.also)
            for post in stories.get(_key(entry.post), (entry.post,))
        )
        return tuple(dict.fromkeys(shown))

    @property
    def top(self) -> tuple[DigestEntry, ...]:
        """The stories of "In one minute": the first TOP_STORIES of entries, then headlines."""
        return (*self.entries, *self.also)[:TOP_STORIES]

    @property
    def sections(self) -> tuple[tuple[str, tuple[DigestEntry, ...]], ...]:
        """Entries as the reader scans them: "Top stories" first, then one
        section per source (a hashtag, group or feed), best section first."""
        return sections_of(self.entries)

    def showing(self, entries: Sequence[DigestEntry], also: Sequence[DigestEntry]) -> Digest:
        """This digest showing only `entries` and `also` (its subject naming
        the first of them), its words recounted."""
        entries, also = _with_ledes(entries, also)
        shown = dataclasses.replace(
            self,
            entries=entries,
            also=also,
            subject=make_subject(self.local_day, entries or also),
        )
        words = total_words(shown, shown.entries, shown.also)
        return dataclasses.replace(
            shown, words=words, reading_seconds=seconds_for(words, self.words_per_minute)
        )


def _with_ledes(
    entries: Sequence[DigestEntry], also: Sequence[DigestEntry]
) -> tuple[tuple[DigestEntry, ...], tuple[DigestEntry, ...]]:
    """`entries` and `also` with the lede of each top story worked out."""

    def with_lede(entry: DigestEntry) -> DigestEntry:
        return entry if entry.lede else dataclasses.replace(entry, lede=shown_lede(entry.post))

    top_also = max(0, TOP_STORIES - len(entries))
    return (
        (*map(with_lede, entries[:TOP_STORIES]), *entries[TOP_STORIES:]),
        (*map(with_lede, also[:top_also]), *also[top_also:]),
    )


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


def _to_entry(decision: Decision, wording: Wording, memo: DigestMemo) -> DigestEntry:
    """A chosen story as the digest shows it, with its words counted (`memo`:
    the links of posts shown in the batch's other digests)."""
    shown, story = decision.shown, decision.ranked.story
    assert shown is not None  # entries and headlines always have what is shown
    post = shown.post
    links = memo.entry_links(post)
    text = None if post.title else clean_text_links(post.text[:_HEADLINE_SCAN_CHARS])
    entry = DigestEntry(
        post=post,
        source_title=wording.source_titles.get(post.source_key, post.source_key),
        excerpt=clean_text_links(shown.excerpt),
        local_time=post.published_at.astimezone(wording.zone),
        reading_seconds=0,
        is_excerpt=shown.is_excerpt,
        sharers=story.sharers,
        engagement=_total_engagement(story.posts),
        shows_html=shows_html(shown),
        link=links.page,
        post_link=links.post,
        headline=headline_of(post, text),
        rank=decision.ranked.rank,
    )
    words = entry_words(entry, wording) if decision.placement == ENTRY else also_words(entry)
    return dataclasses.replace(
        entry, words=words, reading_seconds=seconds_for(words, wording.words_per_minute)
    )


def _fit(digest: Digest, spare: Iterable[DigestEntry]) -> Digest:
    """The digest within its recipient's reading time, counted word for word
    (`digests.fit.fitting`, topping up with the `spare` headlines); the
    decisions say what became of each story."""
    fitted = fitting(digest, spare)
    if not fitted.left_out and not fitted.added:
        return digest
    added = {_key(e.post) for e in fitted.added}
    gone = {_key(e.post) for e in fitted.left_out}

    def decided(d: Decision) -> Decision:
        key = _key(d.ranked.story.lead if d.shown is None else d.shown.post)
        if key in gone:
            return dataclasses.replace(d, placement=SKIPPED, reason=OVER_TIME, shown=None)
        if key in added:
            shown = as_headline(d.ranked.story.lead if d.shown is None else d.shown.post)
            return dataclasses.replace(
                d, placement=ALSO, reason="headline: no room for an entry", shown=shown
            )
        return d

    decisions = digest.decisions.revised(decided)
    return dataclasses.replace(digest, decisions=decisions).showing(fitted.entries, fitted.also)


def _spare(
    decisions: Sequence[Decision], wording: Wording, memo: DigestMemo
) -> Iterator[DigestEntry]:
    """The first stories choose.py had no room for, as headlines, in rank
    order (made only as asked for): the word count may find room its
    estimates did not."""
    skipped = (d for d in decisions if d.placement == SKIPPED and d.reason == OVER_TIME)
    for decision in itertools.islice(skipped, _SPARE_HEADLINES):
        shown = as_headline(decision.ranked.story.lead)
        yield _to_entry(dataclasses.replace(decision, placement=ALSO, shown=shown), wording, memo)


def _key(post: Post) -> tuple[str, str]:
    return post.source_key, post.external_id


def _with_picture(entry: DigestEntry) -> DigestEntry:
    """A top story with the picture its post carries, if any may be shown."""
    image = picture_of(entry.post, entry.shows_html)
    if not image:
        return entry
    alt = picture_alt(entry.headline, entry.source_title)
    return dataclasses.replace(entry, image_url=image, image_alt=alt)


def build_digest_from_posts(
    posts: Sequence[Post] | PostsBySource,
    recipient: RecipientConfig,
    source_titles: Mapping[str, str],
    now: datetime,
    window: tuple[datetime, datetime],
    words_per_minute: int = WORDS_PER_MINUTE,
    memo: DigestMemo | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    leanings: Leanings = NO_LEANINGS,
) -> Digest:
    """The recipient's digest for `window`, from the posts of what they follow.

    `source_titles` maps source keys to the names shown (the key itself is
    shown when missing); `labels` name the networks as `render.py` will
    (`Post.network` -> "X"), for counting the words of bylines.
    The local day is `now` in the recipient's zone.
    `memo` carries what was worked out about posts over from the other
    digests of a batch (`digests.memo.DigestMemo`); the digest is the same
    without it. `leanings` are the teacher's "more / less like this",
    which ranking follows.
    Raises ValueError for a naive `now` or a non-positive
    `words_per_minute`, and zoneinfo.ZoneInfoNotFoundError for an unknown
    time zone (configuration validation should have caught it).
    """
    _require_aware("now", now)
    if words_per_minute <= 0:
        raise ValueError(f"words_per_minute must be positive, not {words_per_minute}")
    zone = ZoneInfo(recipient.timezone)
    local_day = now.astimezone(zone).date()
    memo = DigestMemo() if memo is None else memo
    grouped = posts if isinstance(posts, PostsBySource) else PostsBySource.of(posts)
    windows = source_windows(grouped, recipient, window, memo)
    stories_found = cluster_posts(
        joinable(windows, memo),
        memo,
        activity=WindowActivity(source.activity for source in windows),
        bucket_size=bucket_size_of(windows, memo),
    )
    ranked = rank_stories(stories_found, recipient, now, memo, leanings=leanings, sources=windows)
    best = [item.story for item in ranked[:ESTIMATE_FROM]]
    limits = limits_for(recipient, source_titles, words_per_minute, best, labels)
    decisions = plan_digest(ranked, limits)
    wording = Wording(zone, local_day, source_titles, labels or {}, words_per_minute)
    made = decisions.made
    entries = tuple(_to_entry(d, wording, memo) for d in made if d.placement == ENTRY)
    also = tuple(_to_entry(d, wording, memo) for d in made if d.placement == ALSO)
    digest = Digest(
        recipient=recipient,
        local_day=local_day,
        window_start=window[0],
        window_end=window[1],
        entries=(),
        also=(),
        reading_seconds=0,
        subject="",
        candidate_count=sum(len(source.kept) for source in windows),
        decisions=decisions,
        muted=_muted(windows),
        words_per_minute=words_per_minute,
    )
    fitted = _fit(digest.showing(entries, also), _spare(decisions, wording, memo))
    top = fitted.entries
    return dataclasses.replace(
        fitted, entries=(*map(_with_picture, top[:TOP_STORIES]), *top[TOP_STORIES:])
    )


def _muted(windows: Sequence[SourceWindow]) -> tuple[tuple[Post, str], ...]:
    """The posts a mute word dropped, newest first, with the word each matched."""
    muted = [found for source in windows for found in source.muted]
    muted.sort(key=lambda found: (-found[0].published_at.timestamp(), found[0].external_id))
    return tuple(muted)

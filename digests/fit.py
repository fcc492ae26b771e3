"""An honest reading time: the digest's text version counted word for word, and kept within it.

"About 5 min" must be what a teacher spends, so a digest's reading time
is every word of its text version (digest.txt.j2) at the words per
minute of `[digest] words_per_minute`: titles, bylines, excerpts,
"Shared by ..." lines, counts, link labels and URLs, section headers,
the "in one minute" lines, greeting and footer. A word is what
`str.split` finds, as `wc -w` counts; the template wraps lines at spaces
only, so wrapping changes no count. A test renders digests and compares.

Choosing happens before this count can be made: `choose.py` plans with
estimates (`limits_for`: the lines around the stories as the best-ranked
stories would make them, and per story the words its post alone does not
decide, such as its source's name or who else shared it, averaged over
the best-ranked stories), then `fitting` leaves out the last
headlines, then entries of the sources with most entries, while the exact
count is over the recipient's minutes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aggregator.domain.recipient import RecipientConfig
from digests.choose import Limits
from digests.cluster import Story
from digests.lede import lede_line, shown_lede
from digests.links import safe_href
from digests.wording import (
    QUIET_LINE_WORDS,
    TOP_STORIES,
    byline,
    count_words,
    engagement_phrase,
    headline_of,
    minutes_phrase,
    network_name,
    quiet_since,
    shared_by,
)

if TYPE_CHECKING:  # compose.py builds digests with this module
    from digests.compose import Digest, DigestEntry

TOP_SECTION = "Top stories"
# Words of the text version no story decides: "N stories from your network,
# about 5 min read.", "IN ONE MINUTE", "ALSO WORTH A LOOK", and "--" with
# "View in a browser: <URL>", "Manage your digest: <URL>" and
# "Unsubscribe: <URL>" (counted whether or not the links are given).
SUMMARY_WORDS, MINUTE_WORDS, ALSO_WORDS, FOOTER_WORDS = 9, 3, 4, 12
# "Your PLN digest — Mon 30 Nov:" before the subject's headline.
SUBJECT_WORDS = 7
_DEFAULT_TITLE_WORDS = 3
# "- Headline (Source)" and its URL: no headline is shorter.
_SHORTEST_HEADLINE_WORDS = 4
# Topping up stops after this many headlines in a row that did not fit.
_MAX_MISSES = 3
# The best-ranked stories the per-story estimates are averaged over: about
# as many as a digest shows in full.
ESTIMATE_FROM = 16


@dataclass(frozen=True, slots=True)
class Wording:
    """What the words of an entry depend on besides the entry itself."""

    zone: ZoneInfo
    local_day: date
    source_titles: Mapping[str, str]
    labels: Mapping[str, str]
    words_per_minute: int


def seconds_for(words: int, words_per_minute: int) -> int:
    """Seconds to read `words` at `words_per_minute`, rounded up."""
    return math.ceil(words * 60 / words_per_minute)


def entry_words(entry: DigestEntry, wording: Wording) -> int:
    """The words of an entry in the text version, its number included."""
    network = network_name(entry.post.network, wording.labels)
    words = 1 + count_words(entry.headline)
    words += count_words(
        byline(entry.source_title, network, entry.post.author, entry.local_time, wording.local_day)
    )
    if entry.headline != entry.excerpt:
        words += count_words(entry.excerpt)
    if len(entry.sharers) > 1:
        words += count_words(shared_by(entry.sharers, wording.labels))
    words += count_words(engagement_phrase(entry.engagement))
    if safe_href(entry.link):
        words += count_words(entry.link_label) + 1
    if safe_href(entry.post_link):
        words += count_words(f"Post on {network}:") + 1
    return words


def also_words(entry: DigestEntry) -> int:
    """The words of an "also worth a look" line and its URL."""
    author = f" \u00b7 {entry.post.author}" if entry.post.author else ""
    words = 1 + count_words(entry.headline) + count_words(f"({entry.source_title}{author})")
    return words + (1 if safe_href(entry.link) else 0)


def sections_of(
    entries: Sequence[DigestEntry],
) -> tuple[tuple[str, tuple[DigestEntry, ...]], ...]:
    """Entries as the reader scans them: "Top stories" first, then one
    section per source (a hashtag, group or feed), best section first."""
    rest: dict[str, list[DigestEntry]] = {}
    for entry in entries[TOP_STORIES:]:
        rest.setdefault(entry.source_title, []).append(entry)
    sections = [(TOP_SECTION, tuple(entries[:TOP_STORIES]))] if entries else []
    sections.extend((title, tuple(items)) for title, items in rest.items())
    return tuple(sections)


def _footer_words(recipient: RecipientConfig) -> int:
    sent = f"Sent by PLN Digest to {recipient.email}. Times are in {recipient.timezone}."
    return FOOTER_WORDS + count_words(sent)


def total_words(digest: Digest, entries: Sequence[DigestEntry], also: Sequence[DigestEntry]) -> int:
    """The words of `digest`'s text version showing `entries` and `also`."""
    recipient = digest.recipient
    words = count_words(digest.subject) + 2 + count_words(recipient.name or "there")
    words += _footer_words(recipient)
    if not entries and not also:
        window = digest.window_end - digest.window_start
        quiet = f"{quiet_since(window)} {minutes_phrase(recipient.reading_minutes)}"
        return words + QUIET_LINE_WORDS + count_words(quiet)
    top = (*entries, *also)[:TOP_STORIES]
    ledes = (e.lede or shown_lede(e.post) for e in top)  # worked out for the top alone
    words += SUMMARY_WORDS + MINUTE_WORDS + sum(1 + count_words(lede) for lede in ledes)
    words += sum(count_words(title) for title, _ in sections_of(entries))
    words += ALSO_WORDS if also else 0
    return words + sum(e.words for e in entries) + sum(e.words for e in also)


@dataclass(frozen=True, slots=True)
class Fitted:
    """What `fitting` made of a digest: the `entries` and `also` headlines
    shown; among the headlines, those that were not before (`added`: former
    entries, or stories choose.py had no room for); and the stories shown
    before and `left_out` now."""

    entries: list[DigestEntry]
    also: list[DigestEntry]
    added: list[DigestEntry]
    left_out: list[DigestEntry]


def fitting(digest: Digest, spare: Iterable[DigestEntry] = ()) -> Fitted:
    """The digest's stories within its recipient's reading time by the exact count.

    While it is over, the last headline is left out, or when none is left the
    last entry of the source with the most entries (so the mix of sources
    choose.py made stays). Then what was left out and the `spare` headlines
    (stories choose.py had no room for, in rank order), best first, are
    added as headlines wherever one still fits, until not even the shortest
    headline could or _MAX_MISSES in a row did not.
    """
    budget = digest.recipient.reading_minutes * 60

    def room(entries: Sequence[DigestEntry], also: Sequence[DigestEntry]) -> float:
        """Words still free (negative: over)."""
        return budget * digest.words_per_minute / 60 - total_words(digest, entries, also)

    entries, also = list(digest.entries), list(digest.also)
    removed: list[DigestEntry] = []
    while (entries or also) and room(entries, also) < 0:
        removed.append(also.pop() if also else entries.pop(_most_crowded_last(entries)))
    was_headline = {id(e.post) for e in digest.also}
    added: list[DigestEntry] = []
    candidates = heapq.merge(sorted(removed, key=_rank), spare, key=_rank)
    misses = 0
    for entry in candidates:
        if misses >= _MAX_MISSES or room(entries, also) < _SHORTEST_HEADLINE_WORDS:
            break
        headline = as_headline_entry(entry, digest.words_per_minute)
        candidate = sorted([*also, headline], key=_rank)
        if room(entries, candidate) < 0:
            misses += 1
            continue
        also, misses = candidate, 0
        added.extend([] if id(entry.post) in was_headline else [headline])
    shown = {id(e.post) for e in also}
    return Fitted(entries, also, added, [e for e in removed if id(e.post) not in shown])


def as_headline_entry(entry: DigestEntry, words_per_minute: int) -> DigestEntry:
    """`entry` as an "also worth a look" headline, its words counted."""
    headline = replace(
        entry, excerpt="", is_excerpt=False, shows_html=False, image_url="", image_alt=""
    )
    words = also_words(headline)
    return replace(headline, words=words, reading_seconds=seconds_for(words, words_per_minute))


def _rank(entry: DigestEntry) -> int:
    return entry.rank


def _most_crowded_last(entries: Sequence[DigestEntry]) -> int:
    """The index of the last entry of the source with the most entries."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.post.source_key] = counts.get(entry.post.source_key, 0) + 1
    most = max(counts.values())
    return max(i for i, e in enumerate(entries) if counts[e.post.source_key] == most)


def limits_for(
    recipient: RecipientConfig,
    source_titles: Mapping[str, str],
    words_per_minute: int,
    stories: Sequence[Story] = (),
    labels: Mapping[str, str] | None = None,
) -> Limits:
    """What choose.py may spend, estimated from the best-ranked `stories`
    (those likely to be shown): the reading time less what the lines around
    the stories take (the subject and "in one minute" lines the first of
    them would give), and per entry and headline the seconds of what its
    post alone does not decide: its source's name and network, a share of
    the section headers, who else shared it."""
    labels = labels or {}
    top = [story.lead for story in stories[:TOP_STORIES]]
    frame = (
        SUBJECT_WORDS
        + (count_words(headline_of(top[0])) if top else 0)
        + 2
        + count_words(recipient.name or "there")
        + SUMMARY_WORDS
        + MINUTE_WORDS
        + sum(1 + count_words(lede_line(post)) for post in top)
        + count_words(TOP_SECTION)
        + _footer_words(recipient)
    )
    titles, extras = [], []
    for story in stories[:ESTIMATE_FROM] or ():
        title = count_words(source_titles.get(story.lead.source_key, story.lead.source_key))
        sharers = story.sharers
        shared = count_words(shared_by(sharers, labels)) if len(sharers) > 1 else 0
        titles.append(title)
        # The byline's source name and network, half a section header, "Shared by".
        extras.append(1.5 * title + 2 + shared)
    title_words = sum(titles) / len(titles) if titles else _DEFAULT_TITLE_WORDS
    extra_words = sum(extras) / len(extras) if extras else 1.5 * title_words + 2
    per_second = words_per_minute / 60
    return Limits(
        max(0, recipient.reading_minutes * 60 - round(frame / per_second)),
        words_per_minute=words_per_minute,
        scan_seconds=round(extra_words / per_second),
        # "(source name · ...)" after a headline.
        headline_seconds=round(title_words / per_second),
    )

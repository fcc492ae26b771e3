"""Deciding what each ranked story becomes: an entry, a headline, or nothing — and why.

In rank order, within the recipient's reading time and the email's size,
except that standouts go first (a post far above the rest of its source's
window, `digests.engagement`: a story the reader must not miss):
1. an author's stories past MAX_PER_AUTHOR are skipped (one prolific
   poster does not make a digest), standouts excepted;
2. entries are taken while they fit: every standout that fits, then the
   rest until the first that does not; a story that looks like spam is
   never an entry, at most a headline (nor is it ever a standout);
3. no source may hold more than MAX_SOURCE_SHARE of the entries while other
   sources have stories left: its lowest entries other than a standout are
   swapped for the best stories of other sources, and become headlines if
   there is room;
4. the rest fill the time left as "also worth a look" headlines, standouts
   that found no room for an entry first.
Every story gets a `Decision` with the reason, for `pln digest --explain`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digests.budget import (
    HEADLINE_SECONDS,
    SCAN_SECONDS_PER_ENTRY,
    WORDS_PER_MINUTE,
    ShownPost,
    as_entry,
    as_headline,
    html_bytes,
)
from digests.rank import RankedStory

MAX_SOURCE_SHARE = 0.4
MAX_PER_AUTHOR = 2
# What entries and headlines may add to the HTML email, estimated: Gmail
# clips messages over 102 KB; the page around them takes about 6 KB, and
# `render_html` trims if the estimate was short.
HTML_BYTES_BUDGET = 86_000

ENTRY, ALSO, SKIPPED = "entry", "also", "skipped"


@dataclass(frozen=True, slots=True)
class Decision:
    """What became of one ranked story: `placement` is "entry", "also" or
    "skipped"; `shown` is None when skipped; `reason` is one line for people."""

    ranked: RankedStory
    placement: str
    reason: str
    shown: ShownPost | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What a digest may spend: seconds of reading and bytes of HTML."""

    reading_seconds: int
    html_bytes: int = HTML_BYTES_BUDGET
    words_per_minute: int = WORDS_PER_MINUTE
    scan_seconds: int = SCAN_SECONDS_PER_ENTRY
    headline_seconds: int = HEADLINE_SECONDS
    max_source_share: float = MAX_SOURCE_SHARE
    max_per_author: int = MAX_PER_AUTHOR


class _Spent:
    """Seconds and bytes used so far, against the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits, self.seconds, self.bytes = limits, 0, 0

    def fits(
        self, shown: ShownPost, sharers: int, less: tuple[ShownPost, int] | None = None
    ) -> bool:
        """Whether `shown` fits, once `less` (an entry it replaces) is taken out."""
        seconds = self.seconds + shown.reading_seconds
        size = self.bytes + html_bytes(shown, sharers)
        if less is not None:
            seconds -= less[0].reading_seconds
            size -= html_bytes(*less)
        return seconds <= self.limits.reading_seconds and size <= self.limits.html_bytes

    def add(self, shown: ShownPost, sharers: int, sign: int = 1) -> None:
        self.seconds += sign * shown.reading_seconds
        self.bytes += sign * html_bytes(shown, sharers)


def _is_standout(ranked: RankedStory) -> bool:
    return ranked.score.standing_out is not None


def _standouts_first(eligible: Sequence[RankedStory]) -> list[int]:
    """Indexes of `eligible`: its standouts, then the rest, each in rank order."""
    standouts = [i for i, item in enumerate(eligible) if _is_standout(item)]
    return standouts + [i for i, item in enumerate(eligible) if not _is_standout(item)]


def _author(ranked: RankedStory) -> str:
    """Who the cap counts: the lead's author ("" when the post names none: no cap)."""
    return ranked.story.lead.author.strip().lower()


def _cap_authors(
    ranked: Sequence[RankedStory], cap: int
) -> tuple[list[RankedStory], list[Decision]]:
    """The stories within the per-author cap, and decisions for those past it."""
    seen: dict[str, int] = {}
    kept: list[RankedStory] = []
    skipped: list[Decision] = []
    for item in ranked:
        author = _author(item)
        count = seen.get(author, 0)
        if author and count >= cap and not _is_standout(item):
            reason = f"author cap: {cap} stories by {item.story.lead.author} rank higher"
            skipped.append(Decision(item, SKIPPED, reason))
            continue
        seen[author] = count + 1
        kept.append(item)
    return kept, skipped


def _fill(
    eligible: Sequence[RankedStory], order: Sequence[int], spent: _Spent
) -> dict[int, ShownPost]:
    """Entries, in `order` (standouts first, then in rank order) while they
    fit: index in `eligible` -> what is shown."""
    chosen: dict[int, ShownPost] = {}
    limits = spent.limits
    for index in order:
        item = eligible[index]
        if item.score.spam_reasons:
            continue
        shown = as_entry(item.story.lead, limits.words_per_minute, limits.scan_seconds)
        sharers = item.story.sharer_count
        if not spent.fits(shown, sharers):
            if _is_standout(item):
                continue  # a headline then, before any other
            break
        chosen[index] = shown
        spent.add(shown, sharers)
    return chosen


def _source(item: RankedStory) -> str:
    return item.story.lead.source_key


def _swap_in(
    eligible: Sequence[RankedStory],
    chosen: dict[int, ShownPost],
    spent: _Spent,
    crowded: str,
    limit: int,
    counts: Counter[str],
) -> bool:
    """Replace `crowded`'s lowest entry (never a standout) by the best
    other-source story that fits."""
    victims = [i for i in chosen if _source(eligible[i]) == crowded]
    victims = [i for i in victims if not _is_standout(eligible[i])]
    if not victims:
        return False
    victim = max(victims)
    limits = spent.limits
    for index, item in enumerate(eligible):
        if index in chosen or _source(item) == crowded or counts[_source(item)] >= limit:
            continue
        if item.score.spam_reasons:
            continue
        shown = as_entry(item.story.lead, limits.words_per_minute, limits.scan_seconds)
        less = (chosen[victim], eligible[victim].story.sharer_count)
        if spent.fits(shown, item.story.sharer_count, less=less):
            spent.add(chosen.pop(victim), eligible[victim].story.sharer_count, sign=-1)
            chosen[index] = shown
            spent.add(shown, item.story.sharer_count)
            counts[crowded] -= 1
            counts[_source(item)] += 1
            return True
    return False


def _diversify(
    eligible: Sequence[RankedStory], chosen: dict[int, ShownPost], spent: _Spent
) -> set[int]:
    """Swap entries until no source is over its share or no other story fits;
    returns the indexes swapped out."""
    limit = max(1, math.floor(spent.limits.max_source_share * len(chosen)))
    counts = Counter(_source(eligible[i]) for i in chosen)
    swapped: set[int] = set()
    for crowded in sorted(counts):
        while counts[crowded] > limit:
            before = set(chosen)
            if not _swap_in(eligible, chosen, spent, crowded, limit, counts):
                break
            swapped |= before - set(chosen)
    return swapped


def plan_digest(ranked: Sequence[RankedStory], limits: Limits) -> list[Decision]:
    """A decision for every ranked story, in rank order (see the module docstring)."""
    eligible, decisions = _cap_authors(ranked, limits.max_per_author)
    order = _standouts_first(eligible)
    spent = _Spent(limits)
    chosen = _fill(eligible, order, spent)
    swapped = _diversify(eligible, chosen, spent)
    crowded = f"its source is over {limits.max_source_share:.0%} of entries"
    is_full = False
    for index in order:
        item = eligible[index]
        if index in chosen:
            why = "entry: stands out" if _is_standout(item) else "entry"
            decisions.append(Decision(item, ENTRY, why, chosen[index]))
            continue
        # Once one headline did not fit, the rest are over the time: none is made.
        headline = None if is_full else as_headline(item.story.lead, limits.headline_seconds)
        if headline is not None and spent.fits(headline, 1):
            spent.add(headline, 1)
            why = (
                f"headline: {crowded}"
                if index in swapped
                else "headline only: looks like spam"
                if item.score.spam_reasons
                else "headline: stands out, but no room for an entry"
                if _is_standout(item)
                else "headline: no room for an entry"
            )
            decisions.append(Decision(item, ALSO, why, headline))
            continue
        is_full = True
        decisions.append(Decision(item, SKIPPED, "over the reading time"))
    decisions.sort(key=lambda decision: decision.ranked.rank)
    return decisions

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
The ranking is read only as far as these steps need (every standout, then
until no entry or headline fits); the decisions of the stories past that
point are made only when read (`Decisions`), which a send does not.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from digests.lazy import Lazy
from digests.rank import RankedStory, Ranking

MAX_SOURCE_SHARE = 0.4
MAX_PER_AUTHOR = 2
# What entries and headlines may add to the HTML email, estimated: Gmail
# clips messages over 102 KB; the page around them takes about 6 KB, and
# `render_html` trims if the estimate was short.
HTML_BYTES_BUDGET = 86_000

ENTRY, ALSO, SKIPPED = "entry", "also", "skipped"
# The reason for a story there was no room for.
OVER_TIME = "over the reading time"


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


def _author(ranked: RankedStory) -> str:
    """Who the cap counts: the lead's author ("" when the post names none: no cap)."""
    return ranked.story.lead.author.strip().lower()


class _Eligible:
    """The stories of `ranking` within the author cap, in rank order, read
    only as far as asked (`get`), with a decision for each one past the cap."""

    def __init__(self, ranking: Ranking, cap: int) -> None:
        self.ranking, self.cap = ranking, cap
        self.items: list[RankedStory] = []
        self.capped: list[Decision] = []
        self.read = 0  # stories of `ranking` read
        self._seen: dict[str, int] = {}

    def read_one(self) -> RankedStory | None:
        """Read the next story of the ranking (None: none is left)."""
        item = self.ranking.get(self.read)
        if item is None:
            return None
        self.read += 1
        author = _author(item)
        count = self._seen.get(author, 0)
        if author and count >= self.cap and not _is_standout(item):
            reason = f"author cap: {self.cap} stories by {item.story.lead.author} rank higher"
            self.capped.append(Decision(item, SKIPPED, reason))
        else:
            self._seen[author] = count + 1
            self.items.append(item)
        return item

    def get(self, index: int) -> RankedStory | None:
        """The eligible story at `index`, or None when there are fewer."""
        while len(self.items) <= index:
            if self.read_one() is None:
                return None
        return self.items[index]

    def indexes(self) -> Iterator[int]:
        """The indexes of the eligible stories, reading on as they are asked for."""
        index = 0
        while self.get(index) is not None:
            yield index
            index += 1


def _standouts(eligible: _Eligible) -> list[int]:
    """Indexes of the standouts of `eligible`, in rank order (all read for it)."""
    while eligible.read < eligible.ranking.read_standouts():
        eligible.read_one()
    return [i for i, item in enumerate(eligible.items) if _is_standout(item)]


def _standouts_first(eligible: _Eligible, standouts: list[int]) -> Iterator[int]:
    """Indexes of `eligible`: its `standouts`, then the rest, each in rank order."""
    yield from standouts
    yield from (i for i in eligible.indexes() if not _is_standout(eligible.items[i]))


def _fill(eligible: _Eligible, order: Iterable[int], spent: _Spent) -> dict[int, ShownPost]:
    """Entries, in `order` (standouts first, then in rank order) while they
    fit: index in `eligible` -> what is shown."""
    chosen: dict[int, ShownPost] = {}
    limits = spent.limits
    for index in order:
        item = eligible.items[index]
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
    eligible: _Eligible,
    chosen: dict[int, ShownPost],
    spent: _Spent,
    crowded: str,
    limit: int,
    counts: Counter[str],
) -> bool:
    """Replace `crowded`'s lowest entry (never a standout) by the best
    other-source story that fits."""
    items = eligible.items
    victims = [i for i in chosen if _source(items[i]) == crowded]
    victims = [i for i in victims if not _is_standout(items[i])]
    if not victims:
        return False
    victim = max(victims)
    limits = spent.limits
    for index in eligible.indexes():
        item = items[index]
        if index in chosen or _source(item) == crowded or counts[_source(item)] >= limit:
            continue
        if item.score.spam_reasons:
            continue
        shown = as_entry(item.story.lead, limits.words_per_minute, limits.scan_seconds)
        less = (chosen[victim], items[victim].story.sharer_count)
        if spent.fits(shown, item.story.sharer_count, less=less):
            spent.add(chosen.pop(victim), items[victim].story.sharer_count, sign=-1)
            chosen[index] = shown
            spent.add(shown, item.story.sharer_count)
            counts[crowded] -= 1
            counts[_source(item)] += 1
            return True
    return False


def _diversify(eligible: _Eligible, chosen: dict[int, ShownPost], spent: _Spent) -> set[int]:
    """Swap entries until no source is over its share or no other story fits;
    returns the indexes swapped out."""
    limit = max(1, math.floor(spent.limits.max_source_share * len(chosen)))
    counts = Counter(_source(eligible.items[i]) for i in chosen)
    swapped: set[int] = set()
    for crowded in sorted(counts):
        while counts[crowded] > limit:
            before = set(chosen)
            if not _swap_in(eligible, chosen, spent, crowded, limit, counts):
                break
            swapped |= before - set(chosen)
    return swapped


class Decisions(Lazy[Decision]):
    """A digest's decisions, one per ranked story, in rank order: `made`, those
    made while choosing (every entry and headline among them), then the
    rest, each "over the reading time" or past the author cap, made only
    when read (`pln digest --explain` reads them all, a send does not)."""

    @property
    def made(self) -> Sequence[Decision]:
        """The decisions made so far, in rank order: every entry and headline among them."""
        return self.read

    def revised(self, change: Callable[[Decision], Decision]) -> Decisions:
        """These decisions, each `change`d; the rest still made only when read.
        This object is not to be read afterwards: the rest is read by the new one."""
        return Decisions(map(change, self.unread()), read=map(change, self.read))


def _rest(eligible: _Eligible) -> Iterator[Decision]:
    """The decisions of the stories the plan did not read: over the reading
    time, or past the author cap."""
    while (item := eligible.read_one()) is not None:
        capped = eligible.capped[-1] if eligible.capped else None
        yield capped if capped is not None and capped.ranked is item else _over_time(item)


def _over_time(item: RankedStory) -> Decision:
    return Decision(item, SKIPPED, OVER_TIME)


def _entry(item: RankedStory, shown: ShownPost) -> Decision:
    return Decision(item, ENTRY, "entry: stands out" if _is_standout(item) else "entry", shown)


def plan_digest(ranking: Ranking, limits: Limits) -> Decisions:
    """A decision for every ranked story, in rank order (see the module
    docstring); `ranking` is read only as far as the plan needs."""
    eligible = _Eligible(ranking, limits.max_per_author)
    standouts = _standouts(eligible)
    spent = _Spent(limits)
    chosen = _fill(eligible, _standouts_first(eligible, standouts), spent)
    swapped = _diversify(eligible, chosen, spent)
    crowded = f"its source is over {limits.max_source_share:.0%} of entries"
    decisions: list[Decision] = []
    for index in _standouts_first(eligible, standouts):
        item = eligible.items[index]
        if index in chosen:
            decisions.append(_entry(item, chosen[index]))
            continue
        headline = as_headline(item.story.lead, limits.headline_seconds)
        if spent.fits(headline, 1):
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
        # Once one headline did not fit, the rest are over the time: none is
        # made, and the stories not read yet are not read for it.
        decided = {id(d.ranked) for d in decisions}
        for i, rest in enumerate(eligible.items):
            if id(rest) not in decided:
                decisions.append(_entry(rest, chosen[i]) if i in chosen else _over_time(rest))
        break
    decisions.extend(eligible.capped)
    decisions.sort(key=lambda decision: decision.ranked.rank)
    return Decisions(_rest(eligible), read=decisions)

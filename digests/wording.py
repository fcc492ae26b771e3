"""The digest's words: the phrases both templates show, and how they are counted.

Every line of the digest a template does not write out itself (headlines,
bylines, "Shared by ...", counts, dates, the reading time) is worded here,
once, so that the text a reader gets and the reading time `compose.py`
states for it count the same words. A word is what `str.split` finds,
as `wc -w` counts: separators such as "·" and every URL count too.
English names are spelled out so nothing depends on the process locale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from aggregator.domain.post import Engagement, Post
from digests.cluster import Sharer

# Untitled posts (most social posts) get a headline from their first words.
HEADLINE_WORDS = 12
_HEAD_CHARS = 400
# The "in one minute" block and the "Top stories" section hold this many.
TOP_STORIES = 3
# A window this long reads as "since yesterday"; shorter ones name the last digest.
DAY_LIKE_WINDOW = timedelta(hours=20)
# The words of the quiet-day line around its two phrases: "Your network was
# quiet {since} - nothing new to read. Enjoy the extra {minutes}."
QUIET_LINE_WORDS = 12
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
# Names listed in "shared by"; the rest are counted.
SHARER_NAMES = 4
SEPARATOR = " \u00b7 "
_FRACTIONS = {0: "", 1: "\u00bc", 2: "\u00bd", 3: "\u00be"}


def count_words(text: str) -> int:
    """Words in `text` as a reader meets them: what white space separates."""
    return len(text.split())


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


def headline_of(post: Post, text: str | None = None) -> str:
    """The post's title on one line, or for an untitled post the first words
    of `text` (default `post.text`), or who wrote it."""
    # Whitespace collapsed: a headline may become an email subject, and a
    # line break in a header is refused (or worse, injected).
    title = " ".join((post.title or "").split())
    if title:
        return title
    text = post.text if text is None else text
    # Only the first words are needed: split the start of a long text alone.
    words = text[:_HEAD_CHARS].split()
    if len(text) > _HEAD_CHARS and len(words) <= HEADLINE_WORDS + 4:
        words = text.split()
    if not words:
        return f"Post by {post.author}" if post.author else "Untitled post"
    return first_line(words)


def format_day(day: date, *, is_long: bool = False) -> str:
    """An English date: "Mon 30 Nov", or "Monday 30 November" when `is_long`."""
    weekday, month = WEEKDAYS[day.weekday()], MONTHS[day.month - 1]
    if is_long:
        return f"{weekday} {day.day} {month}"
    return f"{weekday[:3]} {day.day} {month[:3]}"


def format_clock(local_time: datetime, local_day: date) -> str:
    """A reader's clock time, "7:42 AM"; "Sun 9:15 PM" when not on `local_day`."""
    hour = local_time.hour % 12 or 12
    clock = f"{hour}:{local_time.minute:02d} {'AM' if local_time.hour < 12 else 'PM'}"
    if local_time.date() == local_day:
        return clock
    return f"{WEEKDAYS[local_time.weekday()][:3]} {clock}"


def network_name(network: str, labels: Mapping[str, str]) -> str:
    """How a reader knows the network: its label in `labels` ("X", "Web" for
    feeds), else its name capitalised."""
    return labels.get(network, network.capitalize())


def byline(
    source_title: str, network: str, author: str, local_time: datetime, local_day: date
) -> str:
    """ "Cult of Pedagogy · Web · Jennifer Gonzalez · 4:30 AM": the network is left
    out when the source's name already says it, the author when there is none."""
    parts = [source_title]
    if network not in source_title:
        parts.append(network)
    if author:
        parts.append(author)
    parts.append(format_clock(local_time, local_day))
    return SEPARATOR.join(parts)


def shared_by(sharers: Sequence[Sharer], labels: Mapping[str, str]) -> str:
    """ "Shared by 3 people in your network: Ana (Mastodon, X), Ben (X) and Cy (Web)"."""
    names = [
        f"{s.author or 'someone'} ({', '.join(network_name(n, labels) for n in s.networks)})"
        for s in sharers[:SHARER_NAMES]
    ]
    others = len(sharers) - len(names)
    if others:
        names.append(f"{others} other{'' if others == 1 else 's'}")
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    count = len(sharers)
    return f"Shared by {count} {'person' if count == 1 else 'people'} in your network: {listed}"


def engagement_phrase(engagement: Engagement) -> str:
    """ "12 likes · 3 reposts · 1 reply": the counts that are not zero, or ""."""
    counts = (
        (engagement.likes, "like", "likes"),
        (engagement.reposts, "repost", "reposts"),
        (engagement.quotes, "quote", "quotes"),
        (engagement.replies, "reply", "replies"),
    )
    return SEPARATOR.join(f"{n:,} {one if n == 1 else many}" for n, one, many in counts if n > 0)


def reading_phrase(seconds: float) -> str:
    """How long the digest takes, always three words: "about 5 min", "about 2½ min",
    "about 1¾ min", or "under 1 min".

    Whole minutes from 10 minutes, half minutes from 2½, quarters below: the
    figure stays within 10% of `seconds` from 1¼ minutes up.
    """
    minutes = seconds / 60
    if minutes < 1:
        return "under 1 min"
    if minutes >= 9.75:
        return f"about {math.floor(minutes + 0.5)} min"
    step = 2 if minutes >= 2.5 else 4
    parts = math.floor(minutes * step + 0.5) * (4 // step)
    whole, quarters = divmod(parts, 4)
    return f"about {whole or ''}{_FRACTIONS[quarters]} min"


_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


def quiet_since(window: timedelta) -> str:
    """How a quiet day names its window: "since yesterday" or "since your last digest"."""
    return "since yesterday" if window >= DAY_LIKE_WINDOW else "since your last digest"


def minutes_phrase(minutes: int) -> str:
    """ "five minutes", "one minute", "12 minutes": how the quiet-day line says it."""
    number = _NUMBER_WORDS[minutes] if 0 <= minutes < len(_NUMBER_WORDS) else str(minutes)
    return f"{number} minute{'' if minutes == 1 else 's'}"

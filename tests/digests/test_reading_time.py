""" "About N min" is true: the stated reading time against a word count of the rendered text.

Busy days of blogs, podcasts and social posts (stories shared by several
people, counts, long posts cut to excerpts, untitled posts sharing links),
for several recipients at 3, 5 and 10 minutes and two reading speeds: every
word of the text version counts (`wc -w`), the statement is within 10% of
it, and a day with enough material fills 60-100% of the budget.
"""

from __future__ import annotations

import functools
import random
import re
from datetime import timedelta

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, words
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.domain.post import Engagement
from aggregator.domain.story import with_keys
from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.render import DigestLinks, render_html, render_text
from digests.wording import reading_phrase

LABELS = network_labels()
UNSUBSCRIBE = "https://pln.example/unsubscribe?token=abc123"
# Every link a digest can carry: the footer's words are counted with them.
LINKS = DigestLinks(
    unsubscribe="https://pln.example/u/abc123",
    archive="https://pln.example/d/def456",
    manage="https://pln.example/m/ghi789",
)
SOURCES = {
    "cult": "Cult of Pedagogy",
    "ngss": "NGSS Notes from Room 214",
    "pod": "The Staffroom Podcast",
    "edchat": "#edchat on X",
    "scied": "#scied on Mastodon",
    "bsky": "Teachers on Bluesky",
    "fb": "Middle School Science Teachers (Facebook group)",
}
NETWORK = {"edchat": "twitter", "scied": "mastodon", "bsky": "bluesky", "fb": "facebook"}
RECIPIENTS = [
    make_recipient(email="ana@school.example", name="Ana", timezone="America/Chicago"),
    make_recipient(email="luis@school.example", name="Luis", timezone="Europe/London"),
    make_recipient(email="kim@district.example", name="", timezone="Australia/Sydney"),
]
_STATED = re.compile(r"(about|under) (\d*)([¼½¾]?) min read")
_FRACTION = {"": 0.0, "¼": 0.25, "½": 0.5, "¾": 0.75}


@functools.cache
def busy_day(seed: int, count: int = 400):
    """`count` posts over the last day from every source in SOURCES, with
    what the store works out for them (as `posts_for_digest` returns them)."""
    rng = random.Random(seed)
    keys = list(SOURCES)
    articles = [f"https://news.example/story-{n}?utm_source=share" for n in range(25)]
    posts = []
    for i in range(count):
        key = keys[i % len(keys)]
        social = key in NETWORK
        shared = rng.choice(articles) if social and rng.random() < 0.4 else None
        text = words(rng.randint(8, 60) if social else rng.randint(40, 700))
        if rng.random() < 0.5:
            text = text.replace(" ", ". A", 2)  # sentences
        posts.append(
            make_post(
                f"{key}-{i}",
                source_key=key,
                network=NETWORK.get(key, "rss"),
                hours_ago=rng.uniform(0.1, 23.5),
                title=None if social else f"{words(rng.randint(3, 12)).capitalize()}",
                text=f"{text} {shared}" if shared else text,
                links=(shared,) if shared else (),
                author=f"{rng.choice(['Ana', 'Ben', 'Cy', 'Dee', 'Eli'])} {i % 37}"
                + (f" (@user{i % 37})" if social else ""),
                engagement=Engagement(
                    likes=rng.randint(0, 300) * social,
                    reposts=rng.randint(0, 40) * social,
                    replies=rng.randint(0, 20) * social,
                ),
            )
        )
    return tuple(with_keys(post) for post in posts)


def stated_minutes(text: str) -> float | None:
    """The minutes "about N min read" states; None for "under 1 min"."""
    match = _STATED.search(text)
    assert match, "the digest states its reading time"
    if match.group(1) == "under":
        return None
    return float(match.group(2) or 0) + _FRACTION[match.group(3)]


def render(digest):
    return render_text(digest, labels=LABELS, links=LINKS)


@pytest.mark.parametrize("minutes", [3, 5, 10])
@pytest.mark.parametrize("words_per_minute", [238, 200])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_stated_minutes_match_the_words_of_the_text_and_fill_the_budget(
    minutes, words_per_minute, seed
):
    posts = busy_day(seed)
    for someone in RECIPIENTS:
        recipient = _with(someone, minutes)
        digest = build_digest_from_posts(
            posts, recipient, SOURCES, NOW, WINDOW, words_per_minute, labels=LABELS
        )
        text = render(digest)
        counted = len(text.split())
        assert digest.words == counted  # every word the teacher sees, nothing else
        actual = counted / words_per_minute
        stated = stated_minutes(text)
        assert stated is not None and abs(stated - actual) <= 0.1 * actual, (stated, actual)
        fill = actual / minutes
        assert 0.6 <= fill <= 1.0, fill
        assert len(digest.entries) >= minutes  # a busy day's digest, not a stub


def _with(recipient, minutes):
    return make_recipient(
        email=recipient.email,
        name=recipient.name,
        timezone=recipient.timezone,
        reading_minutes=minutes,
        follow=tuple(SOURCES),
    )


def test_a_busy_day_fills_close_to_the_budget():
    """Not only within 60-100%: choosing with good estimates leaves little unused."""
    fills = []
    for seed in (3, 4, 5):
        for minutes in (3, 5, 10):
            recipient = _with(RECIPIENTS[seed % 3], minutes)
            digest = build_digest_from_posts(
                busy_day(seed), recipient, SOURCES, NOW, WINDOW, labels=LABELS
            )
            fills.append(digest.reading_seconds / (minutes * 60))
    assert min(fills) >= 0.9, fills


def test_a_quiet_day_states_what_little_there_is():
    posts = [make_post(str(i), hours_ago=i + 1, text=words(60)) for i in range(3)]
    digest = build_digest_from_posts(posts, make_recipient(), {}, NOW, WINDOW, labels=LABELS)
    text = render(digest)
    actual = len(text.split()) / 238
    assert digest.words == len(text.split())
    assert actual < 5 * 0.6  # not enough material to fill the budget
    stated = stated_minutes(text)
    assert stated is not None and abs(stated - actual) <= 0.1 * actual


def test_the_html_states_the_same_minutes_as_the_text():
    recipient = _with(RECIPIENTS[0], 5)
    digest = build_digest_from_posts(busy_day(7), recipient, SOURCES, NOW, WINDOW, labels=LABELS)
    phrase = reading_phrase(digest.reading_seconds)
    assert f"{phrase} read" in render(digest)
    assert f"{phrase} read" in render_html(digest, UNSUBSCRIBE, labels=LABELS)


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (30, "under 1 min"),
        (60, "about 1 min"),
        (100, "about 1¾ min"),
        (135, "about 2¼ min"),
        (150, "about 2½ min"),
        (160, "about 2½ min"),
        (290, "about 5 min"),
        (299, "about 5 min"),
        (585, "about 10 min"),
        (1000, "about 17 min"),
    ],
)
def test_the_reading_phrase(seconds, phrase):
    assert reading_phrase(seconds) == phrase


@settings(max_examples=40, deadline=None)
@given(
    minutes=st.integers(min_value=1, max_value=12),
    count=st.integers(min_value=0, max_value=120),
    seed=st.integers(min_value=0, max_value=10_000),
    window_hours=st.sampled_from([3, 24]),
)
def test_the_count_is_exact_for_any_day(minutes, count, seed, window_hours):
    recipient = _with(RECIPIENTS[seed % 3], minutes)
    window = (NOW - timedelta(hours=window_hours), NOW)
    digest = build_digest_from_posts(
        busy_day(seed, count), recipient, SOURCES, NOW, window, labels=LABELS
    )
    text = render(digest)
    assert digest.words == len(text.split())
    assert digest.reading_seconds <= minutes * 60 or digest.is_empty
    stated = stated_minutes(text) if not digest.is_empty else None
    actual = digest.words / 238
    if stated is not None and actual >= 1.25:
        assert abs(stated - actual) <= 0.1 * actual


def test_an_entry_without_text_left_out_comes_back_as_a_headline():
    # Title-only posts (an episode with no notes): entries whose excerpt is empty.
    posts = [
        make_post(f"{i:02d}", hours_ago=1 + i / 10, title=words(12), text="") for i in range(40)
    ]
    digest = build_digest_from_posts(
        posts, make_recipient(reading_minutes=1), {}, NOW, WINDOW, labels=LABELS
    )
    placed = {d.ranked.story.lead.external_id: d.placement for d in digest.decisions}
    assert [placed[e.post.external_id] for e in digest.entries] == ["entry"] * len(digest.entries)
    assert [placed[e.post.external_id] for e in digest.also] == ["also"] * len(digest.also)
    assert digest.words == len(render(digest).split())

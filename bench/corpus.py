"""A deterministic corpus of realistic teacher-blog feeds for the fetch benchmark.

Feed `f` on day `d` holds its newest `items` entries; each day after the first,
most feeds gain a few new entries at the top and drop as many old ones, as a
real feed's window does. An entry's content depends only on (seed, feed,
entry number), so an unchanged entry is byte-identical across days and only
genuinely new entries are new to a reader.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

TOPICS = [
    "Retrieval practice",
    "Formative assessment",
    "Classroom management",
    "Cold calling",
    "Worked examples",
    "Spaced practice",
    "Exit tickets",
    "Hinge questions",
    "Phenomena",
    "Literacy across subjects",
    "Homework",
    "Feedback",
    "Behaviour routines",
    "Mini whiteboards",
    "Knowledge organisers",
    "Interleaving",
    "Modelling",
    "Oracy",
    "Questioning",
    "Transitions",
]
ANGLES = [
    "what I changed this term",
    "five mistakes to avoid",
    "a one-page guide",
    "why it works and when it does not",
    "notes from a department pilot",
    "starting on Monday",
    "for new teachers",
    "a science example",
    "with mixed-attainment classes",
    "without adding to your workload",
]
SENTENCES = [
    "Students remember what they are made to think hard about, not what they are told.",
    "A low-stakes quiz at the start of the lesson costs five minutes and pays back all term.",
    "The point of a hinge question is the decision it forces: move on, or reteach.",
    "Wrong answers are information; a room full of right answers to an easy question is not.",
    "Routines free working memory for the content, which is why predictable classrooms feel calm.",
    "Spacing works because some forgetting has to happen before retrieval becomes effortful.",
    "I now write the prompt as a question with two linked ideas in it, never as a bare topic.",
    "Students self-check against the knowledge organiser in a different coloured pen.",
    "Cold calling is only inclusive when everyone gets thinking time before a name is said.",
    "Fading a worked example step by step hands the thinking over without a cliff edge.",
    "An exit ticket is only useful if tomorrow's lesson changes because of what it shows.",
    "Whole-class feedback replaced thirty sets of written comments that nobody read.",
    "The anchor phenomenon works because students' first explanation does not fit what they see.",
    "Interleaved practice feels harder to students and produces better results on mixed tests.",
    "We rehearse transitions like a fire drill in September and rarely think about them after.",
    "A quiet correction at the desk avoids the audience that turns a reminder into a standoff.",
    "Reading aloud by the teacher, with pauses for questions, beat round-robin reading easily.",
    "Mini whiteboards show every answer in the room in two seconds, with no logins.",
    "Planning the questions before the lesson is what makes responsive teaching possible.",
    "Most of what looks like a behaviour problem in the first five minutes is a routine problem.",
    "The department agreed one signal for attention and used it in every room.",
    "Students who never raised a hand were the ones who gained most from everyone answering.",
    "We stopped recording quiz scores and nobody, including the students, missed the spreadsheet.",
    "A misconception named out loud is easier to fix than one hidden behind a right answer.",
]
AUTHORS = [
    "Maya Okafor",
    "Luis Hernández",
    "Priya Raman",
    "Tom Greaves",
    "Hannah Lindqvist",
    "Kwame Asante",
    "Dana Brooks",
    "Renee Park",
    "Sam Whitaker",
    "Marcus Bell",
]

# One entry every 6 hours, newest last: day 1 ends at the base time.
ENTRY_SPACING = timedelta(hours=6)


def feed_format(feed: int) -> str:
    """ "rss" or "atom": the corpus alternates, as a PLN's feeds do."""
    return "atom" if feed % 3 == 2 else "rss"


def gains_items(feed: int, day: int) -> bool:
    """Whether `feed` published new entries on `day` (most do; every fifth does not)."""
    return day > 1 and (feed * 7 + day) % 5 != 0


def newest_entry(feed: int, day: int, items: int, new_per_day: int = 3) -> int:
    """The number of the newest entry feed `feed` shows on `day` (entries count from 0)."""
    newest = items - 1
    for d in range(2, day + 1):
        if gains_items(feed, d):
            newest += new_per_day
    return newest


def _paragraphs(rng: random.Random, feed: int, slug: str) -> str:
    parts = []
    for _ in range(rng.randint(3, 5)):
        sentences = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(4, 7)))
        parts.append(f"<p>{escape(sentences)}</p>")
    # Relative links: the reader has to resolve them against the entry.
    parts.insert(
        1,
        f'<p>See also <a href="/posts/{slug}-part-2">part two</a> and the '
        f'<a href="../resources/{slug}.pdf">printable version</a>.</p>',
    )
    if rng.random() < 0.5:
        items = "".join(f"<li>{escape(rng.choice(SENTENCES))}</li>" for _ in range(3))
        parts.append(f"<h3>Try this</h3><ul>{items}</ul>")
    if rng.random() < 0.3:
        parts.append(f'<p><img src="/images/{slug}.jpg" alt="A classroom photo" width="640"></p>')
    return "\n".join(parts)


@dataclass(frozen=True)
class Entry:
    """One generated blog post."""

    id: str
    title: str
    slug: str
    author: str
    published: datetime
    categories: list[str]
    summary: str
    html: str


def _entry(seed: int, feed: int, number: int, base: datetime, items: int) -> Entry:
    rng = random.Random(f"{seed}:{feed}:{number}")
    topic = rng.choice(TOPICS)
    title = f"{topic}: {rng.choice(ANGLES)}"
    slug = f"{topic.lower().replace(' ', '-')}-{number}"
    published = base + (number - (items - 1)) * ENTRY_SPACING
    categories = rng.sample(TOPICS, 2) + (["edchat"] if rng.random() < 0.4 else [])
    return Entry(
        id=f"tag:blog{feed}.example,2020:{number}",
        title=title,
        slug=slug,
        author=rng.choice(AUTHORS),
        published=published,
        categories=categories,
        summary=rng.choice(SENTENCES),
        html=_paragraphs(rng, feed, slug),
    )


def _rss_item(e: Entry, feed: int) -> str:
    cats = "".join(f"<category>{escape(c)}</category>" for c in e.categories)
    return (
        f"<item><title>{escape(e.title)}</title>"
        f"<link>https://blog{feed}.example/posts/{e.slug}</link>"
        f'<guid isPermaLink="false">{e.id}</guid>'
        f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>"
        f"<dc:creator>{escape(e.author)}</dc:creator>{cats}"
        f"<description>{escape(e.summary)}</description>"
        f"<content:encoded><![CDATA[{e.html}]]></content:encoded></item>\n"
    )


def _atom_entry(e: Entry, feed: int) -> str:
    cats = "".join(f'<category term="{escape(c)}"/>' for c in e.categories)
    stamp = e.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<entry><title>{escape(e.title)}</title><id>{e.id}</id>"
        f'<link rel="alternate" href="https://blog{feed}.example/posts/{e.slug}"/>'
        f"<published>{stamp}</published><updated>{stamp}</updated>"
        f"<author><name>{escape(e.author)}</name></author>{cats}"
        f"<summary>{escape(e.summary)}</summary>"
        f'<content type="html">{escape(e.html)}</content></entry>\n'
    )


def render_feed(seed: int, feed: int, day: int, items: int, base: datetime) -> tuple[str, bytes]:
    """Feed `feed` as published on `day`: (content type, body)."""
    newest = newest_entry(feed, day, items)
    numbers = range(newest, newest - items, -1)
    entries = [_entry(seed, feed, n, base, items) for n in numbers]
    updated = entries[0].published
    if feed_format(feed) == "rss":
        body = "".join(_rss_item(e, feed) for e in entries)
        doc = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>Teacher blog {feed}</title><link>https://blog{feed}.example/</link>"
            f"<description>Classroom notes, number {feed}.</description>"
            f"<lastBuildDate>{format_datetime(updated, usegmt=True)}</lastBuildDate>\n"
            f"{body}</channel></rss>\n"
        )
        return "application/rss+xml; charset=utf-8", doc.encode("utf-8")
    body = "".join(_atom_entry(e, feed) for e in entries)
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:base="https://blog{feed}.example/"><title>Teacher blog {feed}</title>'
        f"<id>tag:blog{feed}.example,2020:feed</id>"
        f'<link rel="alternate" href="https://blog{feed}.example/"/>'
        f"<updated>{updated.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>\n"
        f"{body}</feed>\n"
    )
    return "application/atom+xml; charset=utf-8", doc.encode("utf-8")


def default_base() -> datetime:
    """The end of day 1: the start of the current hour, UTC."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

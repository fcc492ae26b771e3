"""A realistic teacher's day of posts, for the screenshots and a look at the digest.

Hand-written, so that the rendered sample shows every feature a reader
meets: a story shared across networks, a cross-post, a long blog post cut
to an excerpt, an image, engagement, spam that sinks, a muted post, and
more than fits (the "also worth a look" list).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # 6:30 AM in Chicago
RECIPIENT = RecipientConfig(
    email="ana@school.example",
    name="Ana",
    timezone="America/Chicago",
    reading_minutes=5,
    follow=("cult", "edchat", "scied", "bsky", "ngss-blog", "podcast"),
    mute=("webinar",),
    boost=("NGSS", "formative assessment"),
)
SOURCE_TITLES = {
    "cult": "Cult of Pedagogy",
    "edchat": "#edchat on X",
    "scied": "#scied on Mastodon",
    "bsky": "Teachers on Bluesky",
    "ngss-blog": "NGSS Notes",
    "podcast": "The Staffroom Podcast",
}
ARTICLE = "https://www.cultofpedagogy.com/retrieval-practice-routines/"
ESSAY = (
    "Most of us were taught to review at the end of a unit. Retrieval practice turns that "
    "around: short, low-stakes attempts to recall what was learned, spread across the weeks, "
    "do more for long-term memory than any amount of re-reading.\n\n"
    "In this post I walk through five routines that take less than five minutes each: brain "
    "dumps, two-things, retrieval grids, flashcards with a twist and the humble exit ticket. "
    "Each comes with a template, a note on how to keep it low-stakes, and what to do with "
    "the answers so the practice also tells you what to reteach tomorrow. " * 3
)


def _post(key: str, ext: str, hours: float, **fields: object) -> Post:
    base: dict[str, object] = {
        "source_key": key,
        "external_id": ext,
        "network": "rss",
        "author": "",
        "title": None,
        "text": "",
        "html": "",
        "url": f"https://example.org/{key}/{ext}",
        "published_at": NOW - timedelta(hours=hours),
    }
    base.update(fields)
    return Post(**base)  # type: ignore[arg-type]


def sample_posts() -> list[Post]:
    """About twenty posts from six sources over the last day."""
    posts = [
        _post(
            "cult",
            "rp",
            9,
            url=ARTICLE,
            author="Jennifer Gonzalez",
            title="Five retrieval practice routines that take five minutes",
            text=ESSAY,
            image_url="https://www.cultofpedagogy.com/wp-content/uploads/retrieval.jpg",
        ),
        _post(
            "edchat",
            "t1",
            4,
            network="twitter",
            author="Ben Ortiz",
            url="https://x.com/bortiz/status/1001",
            links=(ARTICLE + "?utm_source=twitter",),
            text="Brain dumps every Monday changed my Year 9s. This is the best summary I've read.",
            engagement=Engagement(likes=212, reposts=48, replies=17),
        ),
        _post(
            "scied",
            "m1",
            3,
            network="mastodon",
            author="Cy Park",
            url="https://mastodon.social/@cy/1002",
            links=(ARTICLE,),
            text="Retrieval grids, explained with templates. Saving this for department PD.",
            engagement=Engagement(likes=31, reposts=12),
        ),
        _post(
            "bsky",
            "b1",
            2,
            network="bluesky",
            author="Dee Lane",
            url="https://bsky.app/profile/dee.bsky.social/post/3k1",
            links=(ARTICLE,),
            text="The two-things routine is so simple and it works",
            engagement=Engagement(likes=18),
        ),
        _post(
            "scied",
            "m2",
            6,
            network="mastodon",
            author="Eve Ruiz",
            text="Our district science fair is open to every middle school this year: registration "
            "closes Friday, and we still need judges for Saturday morning. #scied",
            engagement=Engagement(likes=9, reposts=6),
        ),
        _post(
            "bsky",
            "b2",
            5.5,
            network="bluesky",
            author="Eve Ruiz",
            text="Our district science fair is open to every middle school this year: registration "
            "closes Friday, and we still need judges for Saturday morning. #scichat",
            engagement=Engagement(likes=14, reposts=3),
        ),
        _post(
            "ngss-blog",
            "n1",
            11,
            author="Marisol Vega",
            title="Anchoring phenomena for a sixth-grade weather unit",
            text="A storm that dumped a month of rain in a day gave my class a question they "
            "cared about for three weeks. Here is how we built the unit around it, with "
            "the driving question board, the models students drew and revised, and the "
            "NGSS performance expectations it covers.",
        ),
        _post(
            "podcast",
            "p1",
            14,
            author="The Staffroom",
            title="Episode 48: Cold calling without the fear",
            text="Warm calling, think-pair-share and no-opt-out: three ways to hear from every "
            "student without putting anyone on the spot. 32 minutes.",
        ),
        _post(
            "edchat",
            "t2",
            1.5,
            network="twitter",
            author="Gina Shah",
            url="https://x.com/gshah/status/1003",
            text="Formative assessment tip: ask students to rate their confidence before they "
            "answer. The gap between confidence and accuracy is the lesson plan.",
            engagement=Engagement(likes=540, reposts=120, replies=44, quotes=9),
        ),
        _post(
            "edchat",
            "t3",
            0.5,
            network="twitter",
            author="Crypto Teacher",
            text="GIVEAWAY! Follow + RT to win 100 USDT. Teachers deserve crypto too #edchat "
            "#teachers #crypto #bitcoin #nft #web3 #giveaway",
            engagement=Engagement(likes=900, reposts=700),
        ),
        _post(
            "scied",
            "m3",
            7,
            network="mastodon",
            author="Hal Moss",
            text="Free webinar tonight on lab safety paperwork, sign up below",
        ),
        _post(
            "cult",
            "c2",
            20,
            author="Jennifer Gonzalez",
            title="The teacher's guide to tech 2027",
            text="Our annual guide. " + ESSAY[:400],
        ),
        _post(
            "ngss-blog",
            "n2",
            16,
            author="Marisol Vega",
            title="Claim, evidence, reasoning: sentence stems that help",
            text="Sentence stems for CER in grades 4-8, with examples from a plant growth lab.",
        ),
    ]
    for i, topic in enumerate(
        (
            "seating charts",
            "parent emails",
            "exit tickets",
            "lab groups",
            "reading logs",
            "bell ringers",
            "grading rubrics",
            "field trips",
        )
    ):
        posts.append(
            _post(
                ("edchat", "scied", "bsky")[i % 3],
                f"x{i}",
                2 + i * 1.7,
                network=("twitter", "mastodon", "bluesky")[i % 3],
                author=f"{('Ivy', 'Jon', 'Kai', 'Lia')[i % 4]} {('Ng', 'Oh', 'Poe')[i % 3]}",
                text=f"What is working for you with {topic} this term? We tried a new "
                f"approach in week {i + 3} and the students noticed.",
                engagement=Engagement(likes=3 * i, replies=i),
            )
        )
    return posts

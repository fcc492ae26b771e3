"""`explain_lines`: every candidate with its score parts and the reason for its fate."""

from __future__ import annotations

import re

from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from digests.compose import build_digest_from_posts
from digests.explain import explain_lines

LINE = re.compile(
    r"^\s+(?P<rank>\d+)\. (?P<placement>ENTRY|ALSO|SKIPPED)\s+(?P<total>\d+\.\d\d) = "
    r"recency (?P<recency>\d\.\d\d) \+ engagement (?P<engagement>\d\.\d\d) \+ "
    r"(?:standout (?P<standout>\d\.\d\d) \+ )?shared (?P<shared>\d\.\d\d) \+ boost (?P<boost>\d\.\d\d) - spam (?P<spam>\d+\.\d\d)"
    r"  \"(?P<title>[^\"]*)\" \[(?P<source>[^,]+), (?P<network>[^,]+), (?P<author>[^\]]+)\]: "
    r"(?P<reason>.+)$"
)


def explained():
    posts = [
        make_post(
            "top",
            title="Retrieval practice routines",
            hours_ago=1,
            likes=50,
            author="Jennifer Gonzalez",
        ),
        make_post(
            "share",
            source_key="social",
            network="mastodon",
            title=None,
            author="Cy Park",
            text="Worth reading",
            links=("https://example.org/blog/top?utm_source=m",),
        ),
        make_post("spam", title="Giveaway! Win a free class set", hours_ago=2),
        make_post("muted", title="Join our webinar tonight"),
    ]
    posts += [make_post(f"p{i}", hours_ago=3 + i / 2, text=words(80)) for i in range(30)]
    recipient = make_recipient(mute=("webinar",), boost=("retrieval practice",), reading_minutes=2)
    digest = build_digest_from_posts(posts, recipient, {}, NOW, WINDOW)
    return digest, explain_lines(digest)


def test_header_counts_posts_stories_and_the_reading_time():
    digest, lines = explained()
    assert lines[0] == (
        "Digest for ana@school.org, Mon 30 Nov (window 2026-11-29 12:30 to 2026-11-30 12:30 UTC)"
    )
    assert lines[1].startswith("34 posts: 1 muted, 33 candidates in 32 stories; ")
    assert lines[1].endswith(f"reading {digest.reading_seconds} s of 120 s")


def test_every_story_has_one_line_with_its_score_parts_adding_up():
    digest, lines = explained()
    parsed = [LINE.match(line) for line in lines[2:] if not line.startswith(("        +", "   -"))]
    assert all(parsed), [line for line, m in zip(lines[2:], parsed, strict=False) if not m]
    assert [int(m["rank"]) for m in parsed] == list(range(1, 33))
    for m in parsed:
        parts = (
            float(m["recency"])
            + float(m["engagement"])
            + float(m["standout"] or 0)
            + float(m["shared"])
            + float(m["boost"])
        )
        assert abs(parts - float(m["spam"]) - float(m["total"])) < 0.02
    placements = [m["placement"] for m in parsed]
    assert placements.count("ENTRY") == len(digest.entries)
    assert placements.count("ALSO") == len(digest.also)
    assert "SKIPPED" in placements


def test_known_answers_for_the_hand_built_day():
    _, lines = explained()
    first = LINE.match(lines[2])
    assert first["title"] == "Retrieval practice routines"
    assert first["placement"] == "ENTRY" and first["boost"] == "1.00" and first["shared"] == "0.50"
    # 50 likes where no other post of the blog has any: the standout signal, and why.
    assert first["standout"] == "1.00"
    assert first["reason"] == (
        "entry: stands out; in blog: engagement 50, far above the runner-up (0),"
        " median 0 of 31 other posts"
    )
    assert all(LINE.match(line)["standout"] is None for line in lines[4:] if LINE.match(line))
    assert lines[3] == '        + same story: "Worth reading" [social, mastodon, Cy Park]'
    [spam] = [line for line in lines if "Giveaway" in line]
    assert "looks like spam (giveaway)" in spam and not spam.endswith("spam 0.00")
    assert lines[-1] == (
        '   -  MUTED   "Join our webinar tonight" [blog, rss, Author muted]: mute word "webinar"'
    )
    assert any(line.endswith(": over the reading time") for line in lines)

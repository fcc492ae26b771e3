""" "In one minute": one line per top story that says something, not its title again."""

from __future__ import annotations

import pytest
from digest_factory import NOW, WINDOW, make_post, make_recipient, words

from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.lede import LEDE_CUT_WORDS, lede_line
from digests.render import render_html, render_text

LABELS = network_labels()


@pytest.mark.parametrize(
    ("title", "text", "lede"),
    [
        pytest.param(
            "Hinge questions",
            "A hinge question sits at the pivot of a lesson. Every student answers at once.",
            "A hinge question sits at the pivot of a lesson.",
            id="first-sentence",
        ),
        pytest.param(
            "Brain dumps",
            'The instruction is "write down everything you remember." I have used it all year.',
            'The instruction is "write down everything you remember."',
            id="closing-quote",
        ),
        pytest.param(
            "Spacing",
            "Thread. Spacing works when you plan for it, not by accident. More below.",
            "Thread. Spacing works when you plan for it, not by accident.",
            id="too-short-joins-the-next",
        ),
        pytest.param(
            "Feedback",
            "Dr. Smith and J. Hattie agree on feedback that moves learning. Next, a rubric.",
            "Dr. Smith and J. Hattie agree on feedback that moves learning.",
            id="abbreviations",
        ),
        pytest.param(
            "Ep. 140 — Formative assessment is a verb",
            "Ep. 140 — Formative assessment is a verb. A test is not formative; what you do is.",
            "A test is not formative; what you do is.",
            id="text-repeats-the-title",
        ),
        pytest.param("Only a title", "", "Only a title", id="no-text"),
        pytest.param(
            None,
            "Exit tickets save my Fridays. Here is how I use them. More below.",
            "Exit tickets save my Fridays. Here is how I use them.",
            id="untitled-says-more-than-its-headline",
        ),
        pytest.param(
            None,
            "Exit tickets save my Fridays.",
            "Exit tickets save my Fridays.",
            id="untitled-one-sentence",
        ),
        pytest.param(
            None,
            "new unit plan is up https://blog.example/unit what do you think",
            "new unit plan is up https://blog.example/unit what do you think",
            id="no-sentence-end",
        ),
    ],
)
def test_the_lede_line(title, text, lede):
    assert lede_line(make_post("1", title=title, text=text)) == lede


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis():
    line = lede_line(make_post("1", title="Long", text=words(80, "retrieval") + "."))
    assert line == " ".join(["retrieval"] * LEDE_CUT_WORDS) + "\u2026"


def test_in_one_minute_gives_ledes_not_titles_in_text_and_html():
    ledes = [f"Lede {i} says {words(6)}." for i in range(4)]
    posts = [
        make_post(
            str(i),
            hours_ago=1 + i,
            title=f"Title number {i}",
            text=f"{ledes[i]} Then {words(30)}.",
        )
        for i in range(4)
    ]
    digest = build_digest_from_posts(posts, make_recipient(), {}, NOW, WINDOW)
    assert len(digest.entries) == 4
    text = render_text(digest, labels=LABELS)
    html = render_html(digest, labels=LABELS)
    minute_text = text.split("IN ONE MINUTE")[1].split("TOP STORIES")[0]
    minute_html = html.split("In one minute")[1].split("</ol>")[0]
    for i in range(3):
        assert f"- {ledes[i]}\n" in minute_text and ledes[i] in minute_html
        assert f"Title number {i}" not in minute_text + minute_html
    assert "Lede 3" not in minute_text  # three top stories


def test_an_untitled_posts_line_says_more_than_its_headline():
    post = make_post(
        "1",
        title=None,
        source_key="social",
        text="Formative assessment tip: ask students to rate their confidence. "
        "The gap between confidence and accuracy is the lesson plan.",
    )
    [entry] = build_digest_from_posts([post], make_recipient(), {}, NOW, WINDOW).entries
    assert entry.headline == "Formative assessment tip: ask students to rate their confidence."
    assert entry.lede == (
        "Formative assessment tip: ask students to rate their confidence. "
        "The gap between confidence and accuracy is the lesson plan."
    )

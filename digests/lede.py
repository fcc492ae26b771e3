"""The one line "In one minute" gives a top story: what its lede says, not its title again.

The lede's first sentence, as the post's plain text has it; a sentence
too short to say anything ("Thread.", "New post!") takes the next one
along, and one too long is cut at a word with an ellipsis. A text that
opens by repeating the title (many feeds' summaries do) starts after it.
An untitled post (most social posts) is headed by its first sentence when
that is short (`digests.wording.first_line`), so its line takes the next
sentence along too. A post with no text but its title falls back to it.
"""

from __future__ import annotations

import re

from aggregator.domain.post import Post
from digests.links import clean_text_links
from digests.wording import HEADLINE_WORDS

# Cut a lede longer than LEDE_MAX_WORDS to LEDE_CUT_WORDS; join sentences
# until there are at least LEDE_MIN_WORDS.
LEDE_MAX_WORDS = 32
LEDE_CUT_WORDS = 26
LEDE_MIN_WORDS = 6
# Only the start of a text is read: a lede is its first sentences.
LEDE_SCAN_CHARS = 1200
# A sentence ends at . ! ? (and a closing quote or bracket) before white
# space and what starts a sentence.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
# Words whose final dot does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st vs etc e.g i.e cf no fig ep approx dept jan feb mar apr jun jul aug "
    "sep sept oct nov dec".split()
)
_DANGLING = " \t\n,;:-\u2013\u2014"


def _sentences(text: str) -> list[str]:
    """The first sentences of `text`, each on one line."""
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if match.group().startswith(".") and (last in _ABBREVIATIONS or len(last) == 1):
            continue  # "Dr. Smith", "J. Hattie", "No. 5": not an end
        found.append(" ".join(text[start : match.end()].split()))
        start = match.end()
    rest = " ".join(text[start:].split())
    return [s for s in (*found, rest) if s]


def _without_title(text: str, title: str) -> str:
    """`text` without the title it opens with, if it does."""
    title = " ".join(title.split())
    flat = " ".join(text.split())
    if title and flat.lower().startswith(title.lower()):
        return flat[len(title) :].lstrip(" .:!?\u2013\u2014-")
    return text


def lede_line(post: Post, text: str | None = None) -> str:
    """One line saying what `post` says: its lede (see the module docstring).

    `text` is the post's text as shown (its links cleaned), default `post.text`.
    """
    text = (post.text if text is None else text)[:LEDE_SCAN_CHARS]
    if post.title:
        text = _without_title(text, post.title)
    sentences = _sentences(text)
    minimum = LEDE_MIN_WORDS
    if not post.title and sentences:
        first = len(sentences[0].split())
        if first <= HEADLINE_WORDS + 4:  # the headline is that sentence: say more
            minimum = max(minimum, first + 1)
    words: list[str] = []
    for sentence in sentences:
        words.extend(sentence.split())
        if len(words) >= minimum:
            break
    if not words:
        return " ".join((post.title or "").split())
    if len(words) > LEDE_MAX_WORDS:
        return " ".join(words[:LEDE_CUT_WORDS]).rstrip(_DANGLING) + "\u2026"
    return " ".join(words)


def shown_lede(post: Post) -> str:
    """`lede_line` of the post's text as the digest shows it (links cleaned)."""
    return lede_line(post, clean_text_links(post.text[: 2 * LEDE_SCAN_CHARS]))

"""Which posts may appear in a recipient's digest at all: window, follows, mutes.

Pure functions: the posts, the recipient and the window come in as
arguments. Grouping shares of one story is `cluster.py`'s
job, ordering is `rank.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.domain.post import Post
from digests.memo import DigestMemo, TextFacts


@dataclass(frozen=True, slots=True)
class Selection:
    """The candidates of a window, and the posts dropped for a mute word.

    `muted` pairs each dropped post with the word or phrase it matched, as
    the post wrote it, for `pln digest --explain`.
    """

    kept: tuple[Post, ...]
    muted: tuple[tuple[Post, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Phrases:
    """Words and phrases to look for in posts (a recipient's mutes or boosts), compiled.

    `pattern` matches any of them, case-insensitive, as a whole word or
    phrase; `needles` holds the first word of each, case-folded: a post
    containing none of them cannot match, and a substring test is far
    cheaper than the pattern's search (its lookbehind is tried at every
    position of the text).
    """

    pattern: re.Pattern[str]
    needles: tuple[str, ...]


def compile_phrases(terms: Iterable[str]) -> Phrases | None:
    """The `Phrases` matching any of `terms` as a whole word or phrase.

    "webinar" matches "Webinar!" and "#webinar" but not "webinars"; a phrase
    such as "formative assessment" matches across any run of whitespace.
    Returns None when no term is non-blank (nothing can match).
    """
    alternatives, needles = [], set()
    for term in terms:
        words = term.split()
        if words:
            alternatives.append(r"\s+".join(re.escape(word) for word in words))
            needles.add(words[0].casefold())
    if not alternatives:
        return None
    # Lookarounds instead of \b so that terms starting or ending with a
    # non-word character ("C++", "#edchat") still match as a whole.
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
    return Phrases(pattern, tuple(sorted(needles)))


def matched_term(phrases: Phrases | None, post: Post, facts: TextFacts | None = None) -> str | None:
    """The first of the phrases in the post's title or text, as written there, or None.

    `facts` are the post's `TextFacts` when known: what was found in its
    text for the same phrases is remembered there.
    """
    if phrases is None:
        return None
    if facts is None:
        return _first_term(phrases, post, f"{post.title or ''}\n{post.text}".casefold())
    key = phrases.pattern.pattern
    if key not in facts.terms:
        facts.terms[key] = _first_term(phrases, post, facts.folded)
    return facts.terms[key]


def _first_term(phrases: Phrases, post: Post, folded: str) -> str | None:
    """`matched_term`, given the post's title and text case-folded."""
    if not any(needle in folded for needle in phrases.needles):
        return None
    found = phrases.pattern.search(post.title or "") or phrases.pattern.search(post.text)
    return " ".join(found.group(0).split()) if found else None


def mentions(phrases: Phrases | None, post: Post, facts: TextFacts | None = None) -> bool:
    """Whether the post's title or text contains one of the phrases (`facts`
    as for `matched_term`)."""
    return matched_term(phrases, post, facts) is not None


def select_candidates(
    posts: Iterable[Post],
    follow: Iterable[str],
    mutes: Phrases | None,
    window_start: datetime,
    window_end: datetime,
    memo: DigestMemo | None = None,
) -> Selection:
    """The posts that may appear in the recipient's digest for this window.

    Keeps posts published in (window_start, window_end] — a post dated after
    window_end (a source's clock running ahead) counts as published at
    window_end, and is kept with that date. Drops posts from sources the
    recipient does not `follow` (when any is given) and posts mentioning
    any of their mute words or phrases (`mutes`, see `compile_phrases`:
    case-insensitive, whole words, title or text), which are listed in
    `muted`. Order is kept. `memo` knows the posts'
    texts case-folded already (see `DigestMemo`).
    """
    follows = set(follow)
    kept: list[Post] = []
    muted: list[tuple[Post, str]] = []
    for post in posts:
        if follows and post.source_key not in follows:
            continue
        if post.published_at > window_end:
            post = replace(post, published_at=window_end)
        if post.published_at <= window_start:
            continue
        facts = None if memo is None or mutes is None else memo.facts_of(post)
        term = matched_term(mutes, post, facts)
        if term is not None:
            muted.append((post, term))
        else:
            kept.append(post)
    return Selection(tuple(kept), tuple(muted))

"""Spam signals: the shortcuts of `aggregator.domain.spam` find what searching every pattern does."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.domain import spam
from aggregator.domain.spam import MAX_HASHTAGS, spam_signals_of

# The signals as they were first written: every pattern searched in every text.
_REFERENCE = (
    (
        "giveaway",
        r"give-?aways?|sweepstakes?|enter\s+to\s+win|win\s+a\s+free|"
        r"free\s+gift\s+cards?|tag\s+\d+\s+friends|dm\s+(me\s+)?to\s+claim",
    ),
    (
        "crypto",
        r"crypto(currency|currencies)?|bitcoin|btc|ethereum|eth|nfts?|airdrops?|"
        r"web3|memecoins?|solana|100x|pump\s+and\s+dump",
    ),
    (
        "follow-for-follow",
        r"follow\s*(4|for)\s*follow|f4f|follow\s*back|followback|"
        r"#?teacherfollow(train)?|follow\s+train",
    ),
)


def reference_signals(title: str, text: str, hashtags: tuple[str, ...]) -> tuple[str, ...]:
    both = f"{title}\n{text}"
    found = [
        reason
        for reason, pattern in _REFERENCE
        if re.search(r"(?<![\w])#?(?:" + pattern + r")(?![\w])", both, re.IGNORECASE)
    ]
    words = text.split()
    tags = {t.lower() for t in re.findall(r"(?<![\w#])#\w+", text)} | {t.lower() for t in hashtags}
    in_text = sum(1 for word in words if word.startswith("#"))
    if len(tags) > MAX_HASHTAGS or (len(words) >= 4 and in_text / len(words) > 0.5):
        found.append("hashtag-stuffed")
    return tuple(found)


def test_the_patterns_are_those_of_the_reference() -> None:
    assert [(reason, p.pattern) for reason, p in spam._COMPILED] == [
        (reason, r"(?<![\w])#?(?:" + pattern + r")(?![\w])") for reason, pattern in _REFERENCE
    ]


def test_each_clue_word_is_in_each_of_its_alternatives() -> None:
    for _, alternatives in spam._PATTERNS:
        for word, alternative in alternatives:
            assert word in alternative and word == word.lower()


def test_lower_case_keeps_what_the_patterns_match_but_for_three_characters() -> None:
    # Every character, once: what `_may_find_any` relies on.
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    literals = {ch for _, alternatives in spam._PATTERNS for _, a in alternatives for ch in a}
    letters = "".join(sorted(ch for ch in literals if ch.isalnum() or ch in "#-"))
    unlike = {
        ch
        for ch in re.findall(f"[{re.escape(letters)}]", everything, re.IGNORECASE)
        for letter in letters
        if re.fullmatch(re.escape(letter), ch, re.IGNORECASE) and ch.lower() != letter
    }
    assert unlike == set(spam._OTHER_CASES)
    assert all(not re.match(r"\w", ch.lower()) for ch in re.findall(r"\W", everything))
    assert all(ch.lower() == ch for ch in re.findall(r"[\s\d]", everything))
    assert [ch for ch in everything if len(ch.lower()) != 1] == ["\u0130"]


_PIECES = st.sampled_from(
    [
        "give", "away", "aways", "give-away", "GiveAway", "sweepstake", "s", "enter", "to",
        "win", "a", "free", "gift", "cards", "tag", "3", "friends", "dm", "me", "claim",
        "crypto", "currency", "currencies", "bitcoin", "btc", "eth", "ethereum", "nft", "nfts",
        "airdrop", "web3", "memecoin", "solana", "100x", "pump", "and", "dump", "follow",
        "for", "4", "f4f", "back", "teacherfollow", "train", "#", "#edchat", "_", "-", ".",
        "lesson", "together", "TEETH", "\u0130", "\u0131", "\u017f", "\u212a", "\u03a3",
        "\u00e9", "\u2019", "\u00a0", "\u0307", "W\u0130N", "g\u0131veaway", "\u017folana",
    ]
)  # fmt: skip
_GLUE = st.sampled_from(["", " ", "  ", "\n", "\t", "\u00a0", "\u3000", "#", "x", "\u00e9"])
_TEXTS = st.lists(st.tuples(_PIECES, _GLUE), max_size=30).map(
    lambda parts: "".join(piece + glue for piece, glue in parts)
)


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, _TEXTS, st.lists(st.sampled_from(["edchat", "EdChat", "k12", "math"]), max_size=9))
def test_spam_signals_are_those_of_every_pattern_searched(title, text, hashtags) -> None:
    assert spam_signals_of(title, text, tuple(hashtags)) == reference_signals(
        title, text, tuple(hashtags)
    )


@given(st.text(max_size=200), st.text(max_size=200))
def test_spam_signals_of_any_text_are_those_of_the_reference(title, text) -> None:
    assert spam_signals_of(title, text, ()) == reference_signals(title, text, ())

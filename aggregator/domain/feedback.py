"""A teacher's "more / less like this": what they lean towards or away from.

A tap on a story records up to three leanings: its source, its author and
its topic (its first hashtag). The next digests rank stories matching a
leaning higher or lower (`digests.rank`); the teacher can undo each one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from aggregator.domain.post import Post

# Longest author or topic kept: enough for any name, bounded for the index.
VALUE_CHARS = 200


class LeaningKind(StrEnum):
    """What a leaning is about."""

    SOURCE = "source"
    AUTHOR = "author"
    TOPIC = "topic"


@dataclass(frozen=True, slots=True)
class Leaning:
    """More (`direction` 1) or less (-1) of one source, author or topic."""

    kind: LeaningKind
    value: str
    direction: int


@dataclass(frozen=True, slots=True)
class Leanings:
    """All of one teacher's leanings, looked up by what they are about."""

    items: tuple[Leaning, ...] = ()

    def direction(self, kind: LeaningKind, value: str) -> int:
        """1 for more, -1 for less, 0 when the teacher said nothing of it."""
        wanted = _normal(kind, value)
        return next((i.direction for i in self.items if i.kind is kind and i.value == wanted), 0)

    def __bool__(self) -> bool:
        return bool(self.items)


NO_LEANINGS = Leanings()


def _normal(kind: LeaningKind, value: str) -> str:
    """Authors and topics compared without case or extra spaces; source keys as they are."""
    text = " ".join(value.split())[:VALUE_CHARS]
    return text if kind is LeaningKind.SOURCE else text.casefold()


def topic_of(post: Post) -> str:
    """The post's topic: its first hashtag, without '#', or "" when it has none."""
    return next((tag.lstrip("#") for tag in post.hashtags if tag.strip("#")), "")


def leanings_from(post: Post, direction: int) -> tuple[Leaning, ...]:
    """The leanings one "more" (1) or "less" (-1) tap on `post` records."""
    about: Iterable[tuple[LeaningKind, str]] = (
        (LeaningKind.SOURCE, post.source_key),
        (LeaningKind.AUTHOR, post.author),
        (LeaningKind.TOPIC, topic_of(post)),
    )
    return tuple(
        Leaning(kind, _normal(kind, value), direction) for kind, value in about if value.strip()
    )

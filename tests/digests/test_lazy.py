"""A lazy sequence takes from its iterator only what is read, and is a sequence all the same."""

from __future__ import annotations

from collections.abc import Iterator

from digests.lazy import Lazy


def _counting(taken: list[int], count: int) -> Iterator[int]:
    for n in range(count):
        taken.append(n)
        yield n


def test_only_what_is_read_is_taken_from_the_iterator() -> None:
    taken: list[int] = []
    items = Lazy(_counting(taken, 1000), read=[-1])
    assert items[3] == 2 and items[:2] == [-1, 0]
    assert taken == [0, 1, 2] and items.read == [-1, 0, 1, 2]
    assert items.get(5000) is None and len(taken) == 1000


def test_it_reads_as_the_list_it_stands_for() -> None:
    items = Lazy(iter(range(5)))
    assert items == [0, 1, 2, 3, 4] and len(items) == 5 and items[-1] == 4
    assert list(items) == list(range(5)) and items[1:-1] == [1, 2, 3]
    assert hash(Lazy(iter(range(5)))) == hash(items)

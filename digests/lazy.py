"""A sequence read from an iterator only as far as it is asked for.

A digest ranks about a thousand stories and shows a dozen: its ranking
(`digests.rank.Ranking`) and its decisions (`digests.choose.Decisions`)
are made only as far as someone reads them, and kept once made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class Lazy(Sequence[T], Generic[T]):
    """The items of `items`, each taken from it when first asked for, then
    kept, after those `read` already.

    Reading by index, or iterating, takes only as many items as that needs;
    `len`, a negative index, a slice without an end and comparing read them
    all.
    """

    def __init__(self, items: Iterable[T] = (), read: Iterable[T] = ()) -> None:
        self._items, self._read = iter(items), list(read)

    @property
    def read(self) -> Sequence[T]:
        """The items taken so far."""
        return self._read

    def unread(self) -> Iterator[T]:
        """The items not taken yet, for a sequence made from this one: this
        one is not to be read afterwards."""
        return self._items

    def get(self, index: int) -> T | None:
        """The item at `index` (not negative), or None when there are fewer."""
        read = self._read
        while len(read) <= index:
            item = next(self._items, None)
            if item is None:
                return None
            read.append(item)
        return read[index]

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            if index.stop is None or index.stop < 0 or (index.start or 0) < 0:
                return list(self)[index]
            self.get(index.stop - 1)
            return self._read[index]
        item = self.get(index) if index >= 0 else tuple(self)[index]
        if item is None:
            raise IndexError(f"index {index} out of range")
        return item

    def __iter__(self) -> Iterator[T]:
        index = 0
        while (item := self.get(index)) is not None:
            yield item
            index += 1

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"

"""Skipping unchanged feed items before they are parsed.

A feed that changed usually gained a few items and kept the rest byte for
byte. Parsing is nearly all the cost of a fetch (docs/api-notes.md §5 "Speed"), so
the items are found by a cheap scan, fingerprinted, and only those not seen
last time are handed to feedparser, inside the document's own head and tail
(namespaces, base URL, language and feed author stay as they were).

The fingerprints of the items a feed serves travel in the source's cursor.
Whenever the scan cannot be sure where items begin and end (CDATA holding
markup, nested or namespaced items, JSON), the whole document is parsed:
this only ever saves work, it never changes the result.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Items are <item> (RSS 0.9x-2.0, RDF) or <entry> (Atom), never nested.
_ITEM = re.compile(rb"<(item|entry)(?=[\s>/])[^>]*>.*?</\1\s*>", re.DOTALL)
_ITEM_OPEN = re.compile(rb"<(?:item|entry)(?=[\s>/])")
_CURSOR_PREFIX = "items:"
# A cursor is stored per source; a huge feed must not make it huge.
MAX_REMEMBERED = 2000


@dataclass(frozen=True, slots=True)
class Delta:
    """What to parse of a document and what to remember of it.

    `document` holds only the unseen items (None: nothing is new, parse
    nothing); `cursor` lists the fingerprints of every item now served.
    """

    document: bytes | None
    cursor: str | None


def known_items(cursor: str | None) -> frozenset[str]:
    """The item fingerprints a cursor written by `trim_known` remembers."""
    if not cursor or not cursor.startswith(_CURSOR_PREFIX):
        return frozenset()
    return frozenset(cursor[len(_CURSOR_PREFIX) :].split())


def trim_known(body: bytes, known: frozenset[str]) -> Delta:
    """Drop from `body` the items whose exact bytes were seen before.

    Returns the whole body (and no cursor) when the items cannot be located
    with certainty, so such a feed is simply parsed in full every time.
    """
    matches = list(_ITEM.finditer(body))
    if not matches or not _items_are_clean(body, matches):
        return Delta(body, None)
    prints = [hashlib.blake2b(m.group(0), digest_size=10).hexdigest() for m in matches]
    cursor = _CURSOR_PREFIX + " ".join(prints[:MAX_REMEMBERED])
    fresh = [m.group(0) for m, fp in zip(matches, prints, strict=False) if fp not in known]
    if not fresh:
        return Delta(None, cursor)
    if len(fresh) == len(matches):
        return Delta(body, cursor)
    head, tail = body[: matches[0].start()], body[matches[-1].end() :]
    return Delta(head + b"\n".join(fresh) + tail, cursor)


def _items_are_clean(body: bytes, matches: list[re.Match[bytes]]) -> bool:
    """True when every item was matched whole: no item opening outside the
    matches (nesting, comments) and no match cut short inside a CDATA section
    that holds a closing tag."""
    if len(_ITEM_OPEN.findall(body)) != len(matches):
        return False
    return all(m.group(0).count(b"<![CDATA[") == m.group(0).count(b"]]>") for m in matches)

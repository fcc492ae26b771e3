"""OPML 2.0, the file every feed reader exchanges its subscriptions in.

Export writes the `rss` sources; import adds a feed reader's subscriptions
(Feedly's, Inoreader's, Miniflux's, nested in categories or not) as `rss`
sources of config.toml, through one config edit: either every acceptable
feed is added or, when the edited file would not pass `pln check`, nothing.
The file is untrusted: larger than 5 MB, not well-formed, or declaring a
DTD or entities (XML bombs do) is refused whole; a feed that cannot be
imported (no URL, not http(s), already a source, listed twice) is skipped
with one line saying so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, indent, tostring

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from aggregator.app.config_edit import ConfigEdit
from aggregator.app.source_admin import suggested_key
from aggregator.config.types import Config
from aggregator.domain.errors import PLNError
from connectors.rss.connector import RssConnector
from connectors.rss.options import http_url

__all__ = ["MAX_OPML_BYTES", "OpmlError", "OpmlImport", "export_opml", "import_opml"]

MAX_OPML_BYTES = 5_000_000
# The source kind of a feed, which is also OPML's outline type for one.
_FEED = RssConnector.kind


class OpmlError(PLNError):
    """The OPML file is refused whole; nothing was imported."""


@dataclass
class OpmlImport:
    """What an import did: the keys of the sources added, and one line per
    feed left out."""

    added: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Feed:
    url: str
    title: str
    where: str  # how a problem line names it: its title, or its position


def export_opml(config: Config, now: datetime) -> bytes:
    """The `rss` sources as an OPML 2.0 document (UTF-8), in file order."""
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = "PLN Digest sources"
    SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = SubElement(root, "body")
    for source in config.sources:
        if source.kind != _FEED:
            continue
        SubElement(
            body,
            "outline",
            type=_FEED,
            text=source.title,
            title=source.title,
            xmlUrl=source.option("url"),
        )
    indent(root)
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def import_opml(
    edit: ConfigEdit, data: bytes, environ: Mapping[str, str] | None = None
) -> OpmlImport:
    """Add the feeds of OPML `data` to config.toml as `rss` sources and save.

    Raises OpmlError when the file is refused whole, and the errors of
    `ConfigEdit.save` (EditRejected, StaleConfig...) when the edit is;
    in every such case config.toml is unchanged.
    """
    feeds = _read_feeds(data)
    report = OpmlImport()
    taken = {str(entry.get("key", "")) for entry in edit.entries("sources")}
    known = {
        _same(str(entry.get("url", ""))): str(entry.get("key", ""))
        for entry in edit.entries("sources")
        if entry.get("kind") == _FEED
    }
    for feed in feeds:
        problem = _problem(feed, known)
        if problem:
            report.problems.append(f"{feed.where}: {problem}")
            continue
        key = suggested_key(feed.title, feed.url, taken)
        values: dict[str, str | None] = {"key": key, "kind": _FEED, "url": feed.url}
        values["name"] = feed.title or None
        edit.add("sources", values)
        taken.add(key)
        known[_same(feed.url)] = key
        report.added.append(key)
    if report.added:
        edit.save(environ)
    return report


def _read_feeds(data: bytes) -> list[_Feed]:
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(
            f"the OPML file is {len(data) / 1e6:.1f} MB; at most {MAX_OPML_BYTES // 1_000_000} MB "
            "is read (export fewer feeds at a time)"
        )
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OpmlError(
            "the OPML file declares a DTD or entities, which OPML never needs "
            f"(refused: it could be an XML bomb): {type(exc).__name__}"
        ) from exc
    except safe_xml.ParseError as exc:
        line, column = exc.position
        raise OpmlError(
            f"not an OPML file: the XML is not well-formed at line {line}, column {column + 1}"
        ) from exc
    body = root.find("body") if root.tag == "opml" else None
    if body is None:
        raise OpmlError("not an OPML file: it needs an <opml> element with a <body>")
    return list(_feeds(body))


def _feeds(body: Element) -> Iterator[_Feed]:
    """Every outline with an `xmlUrl`, at any depth (categories nest them)."""
    for number, outline in enumerate(body.iter("outline"), start=1):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = " ".join((outline.get("title") or outline.get("text") or "").split())
        kind = (outline.get("type") or _FEED).lower()
        if not url and (len(outline) or kind != _FEED):
            continue  # a category, or a link that is not a feed
        yield _Feed(url, title[:200], repr(title[:80]) if title else f"outline {number}")


def _problem(feed: _Feed, known: Mapping[str, str]) -> str:
    if not feed.url:
        return "has no xmlUrl; skipped"
    try:
        http_url(feed.url)
    except ValueError as exc:
        return f"{exc} ({feed.url[:100]!r}); skipped"
    if (key := known.get(_same(feed.url))) is not None:
        return f"{feed.url} is already source {key!r}; imported once"
    return ""


def _same(url: str) -> str:
    """URLs that name the same feed for a person: case of scheme and host,
    a trailing slash."""
    scheme, _, rest = url.strip().partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")

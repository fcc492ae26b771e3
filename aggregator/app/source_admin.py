"""What the admin pages show and do about sources, without the web.

- `source_views`: every configured source with its health (last fetch, last
  error, posts a day, stale, next fetch), from two queries whatever the
  number of sources;
- `kind_forms`: each kind's own fields, with their help, from
  `connectors.REGISTRY` (a new network gets its form for free);
- `source_values`: a submitted form made into the values of a
  `[[sources]]` entry, typed as the file writes them (the config check
  then judges them, and its problems go back next to the fields);
- `propose_sources`: feed discovery for an address pasted in;
- `add_source`, `update_source`, `set_paused`, `remove_source`: the edits,
  each one config edit (checked, atomic, refused over a newer file).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.app.config_edit import ConfigEdit, Value
from aggregator.app.health import is_stale
from aggregator.app.wiring import App
from aggregator.config.types import Config
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.limits import SOURCE_KEY_CHARS
from aggregator.domain.source import Option, SourceConfig, SourceStatus
from connectors import REGISTRY
from connectors.http.guard import make_session
from connectors.rss.discover import Proposal, discover_feeds

__all__ = [
    "COMMON_FIELDS",
    "FormField",
    "KindForm",
    "SourceView",
    "add_source",
    "kind_forms",
    "propose_sources",
    "remove_source",
    "set_paused",
    "source_values",
    "source_views",
    "suggested_key",
    "update_source",
]

POSTS_A_DAY_OVER = timedelta(days=7)
_KEY_CHARS = 60  # a readable key; the column would take SOURCE_KEY_CHARS
_NOT_KEY = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a source's form: its config key, input type and help."""

    name: str
    input: str  # "text", "number", "checkbox"
    required: bool
    default: str
    help: str


@dataclass(frozen=True, slots=True)
class KindForm:
    """A source kind as the add/edit form shows it."""

    kind: str
    network: str
    fields: tuple[FormField, ...]


COMMON_FIELDS = (
    FormField("key", "text", True, "", "A short id: lower-case letters, digits, - and _"),
    FormField("name", "text", False, "", "The name shown in digests (the key if empty)"),
    FormField(
        "interval_minutes", "number", False, "", "Minutes between fetches, at least 5 (optional)"
    ),
)


@dataclass(frozen=True, slots=True)
class SourceView:
    """One source as the sources page lists it."""

    source: SourceConfig
    network: str
    target: str
    status: SourceStatus | None
    posts_a_day: float
    is_stale: bool

    @property
    def is_failing(self) -> bool:
        """Whether its last fetch failed."""
        return self.status is not None and self.status.consecutive_failures > 0


def source_views(app: App, stale_after: timedelta | None = None) -> list[SourceView]:
    """Every configured source, in file order, with its stored health."""
    now = app.clock()
    stale_after = stale_after or timedelta(days=app.config.schedule.stale_after_days)
    statuses = {s.key: s for s in app.repo.source_statuses(with_post_counts=False)}
    recent = app.repo.posts_since(now - POSTS_A_DAY_OVER)
    days = POSTS_A_DAY_OVER / timedelta(days=1)
    targets = _target_options()
    views = []
    for source in app.config.sources:
        status = statuses.get(source.key)
        spec = REGISTRY.get(source.kind)
        options = dict(source.options)
        target = " · ".join(options[n] for n in targets.get(source.kind, ()) if options.get(n))
        views.append(
            SourceView(
                source=source,
                network=spec.network.label if spec else source.kind,
                target=target,
                status=status,
                posts_a_day=round(recent.get(source.key, 0) / days, 1),
                is_stale=status is not None and is_stale(status, now, stale_after),
            )
        )
    return views


def _target_options() -> dict[str, list[str]]:
    """Per kind, the options that say what a source reads, in one short line:
    its required ones (a URL, a query, a server and a tag...), secrets' names aside."""
    return {
        kind: [name for name, o in spec.options.items() if o.required and o.type != "env"]
        for kind, spec in REGISTRY.items()
    }


def kind_forms() -> dict[str, KindForm]:
    """Each source kind's own fields, in the REGISTRY's order."""
    return {
        kind: KindForm(
            kind,
            spec.network.label,
            tuple(_field(name, option) for name, option in spec.options.items()),
        )
        for kind, spec in REGISTRY.items()
    }


def _field(name: str, option: Option) -> FormField:
    kinds = {"port": "number", "count": "number", "bool": "checkbox"}
    return FormField(
        name, kinds.get(option.type, "text"), option.required, option.default or "", option.help
    )


def source_values(kind: str, form: Mapping[str, str], *, editing: bool) -> dict[str, Value]:
    """The `[[sources]]` values a submitted form asks for.

    Empty optional fields are removed from the entry (None); numbers are
    written as numbers when they are digits (anything else is written as
    text, for the config check to refuse with its own message); a checkbox
    is true when sent. `editing` keeps the key and kind as they are.
    """
    values: dict[str, Value] = {}
    if not editing:
        values["key"] = form.get("key", "").strip()
        values["kind"] = kind
    values["name"] = form.get("name", "").strip() or None
    values["interval_minutes"] = _number(form.get("interval_minutes", ""))
    spec = REGISTRY.get(kind)
    for name, option in spec.options.items() if spec else ():
        text = form.get(name, "").strip()
        if option.type == "bool":
            values[name] = name in form
        elif option.type in ("port", "count"):
            values[name] = _number(text)
        else:
            values[name] = text or None
    return values


def _number(text: str) -> Value:
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 10 else text


def propose_sources(config: Config, url: str, clock: Clock = utc_now) -> list[Proposal]:
    """What a pasted address could be followed as (see `discover_feeds`).

    Raises ValueError for an address that is not http(s), SourceError when
    the page cannot be fetched.
    """
    session = make_session(config.fetch.user_agent)
    try:
        return discover_feeds(url, session, config.fetch, clock)
    finally:
        session.close()


def next_fetch(view: SourceView, now: datetime) -> datetime | None:
    """When the source is fetched next (None: paused or not stored yet)."""
    if view.source.paused or view.status is None:
        return None
    planned = view.status.next_attempt_at or now
    if view.status.wait_until is not None:
        planned = max(planned, view.status.wait_until)
    return planned


def suggested_key(name: str, url: str, taken: Collection[str]) -> str:
    """A key from a source's name (else its URL's host), not in `taken`."""
    host = url.partition("://")[2].partition("/")[0]
    base = _slug(name) or _slug(host) or "source"
    key, number = base, 2
    while key in taken:
        key = f"{base}-{number}"
        number += 1
    return key[:SOURCE_KEY_CHARS]


def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits joined by -, at most 60 characters."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_KEY.sub("-", plain.lower()).strip("-")[:_KEY_CHARS].strip("-")


def add_source(path: str | Path, kind: str, form: Mapping[str, str], expected: str) -> str:
    """Add a source of `kind` from a submitted form; returns its key.

    `expected` is the fingerprint of the file the form was made from.
    Raises EditRejected (problems by field), StaleConfig, ConfigEditError.
    """
    edit = ConfigEdit.open(path, expected=expected)
    values = source_values(kind, form, editing=False)
    edit.add("sources", {name: value for name, value in values.items() if value is not None})
    edit.save()
    return str(values["key"])


def update_source(path: str | Path, key: str, form: Mapping[str, str], expected: str) -> None:
    """Change a source's name, interval and own options from a submitted form."""
    edit = ConfigEdit.open(path, expected=expected)
    kind = next(str(e.get("kind", "")) for e in edit.entries("sources") if e.get("key") == key)
    edit.update("sources", key, source_values(kind, form, editing=True))
    edit.save()


def set_paused(path: str | Path, key: str, paused: bool, expected: str) -> None:
    """Pause a source (`paused = true`) or resume it (the key removed)."""
    edit = ConfigEdit.open(path, expected=expected)
    edit.update("sources", key, {"paused": True if paused else None})
    edit.save()


def remove_source(path: str | Path, key: str, expected: str) -> list[str]:
    """Remove a source and take it out of every recipient's follows;
    returns those recipients' addresses. Its posts stay in the database."""
    edit = ConfigEdit.open(path, expected=expected)
    edit.remove("sources", key)
    unfollowed = edit.drop_follow(key)
    edit.save()
    return unfollowed

"""What the admin pages show and do about sources, without the web.

- `source_views`: every configured source with its health (last fetch, last
  error, posts a day, stale, next fetch), from two queries whatever the
  number of sources;
- `kind_forms`: each kind's own fields, with their help, from
  `connectors.REGISTRY` (a new network gets its form for free);
- `source_values`: a submitted form made into the values of a
  `[[sources]]` entry, typed as the file writes them (the config check
  then judges them, and its problems go back next to the fields);
- `propose_sources`: feed discovery for an address pasted in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.app.config_edit import Value
from aggregator.app.health import is_stale
from aggregator.app.wiring import App
from aggregator.config.types import Config
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.source import Option, SourceConfig, SourceStatus
from connectors import REGISTRY
from connectors.http.guard import make_session
from connectors.rss.discover import Proposal, discover_feeds

__all__ = [
    "COMMON_FIELDS",
    "FormField",
    "KindForm",
    "SourceView",
    "kind_forms",
    "propose_sources",
    "source_values",
    "source_views",
]

POSTS_A_DAY_OVER = timedelta(days=7)


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
    views = []
    for source in app.config.sources:
        status = statuses.get(source.key)
        spec = REGISTRY.get(source.kind)
        views.append(
            SourceView(
                source=source,
                network=spec.network.label if spec else source.kind,
                target=_target(source),
                status=status,
                posts_a_day=round(recent.get(source.key, 0) / days, 1),
                is_stale=status is not None and is_stale(status, now, stale_after),
            )
        )
    return views


def _target(source: SourceConfig) -> str:
    """What the source reads, in one short line: its URL, query, tag..."""
    options = dict(source.options)
    for name in ("url", "query", "username", "list_id", "page_id", "group_id", "host"):
        if options.get(name):
            return options[name]
    if options.get("tag"):
        return f"#{options['tag']} on {options.get('instance', '')}"
    return ""


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

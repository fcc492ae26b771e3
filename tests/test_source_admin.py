"""The sources page's data: health per source, each kind's form, form values."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from aggregator.app.ingest import fetch_sources
from aggregator.app.source_admin import (
    kind_forms,
    next_fetch,
    source_values,
    source_views,
)
from aggregator.app.wiring import build_app
from aggregator.domain.errors import FetchError
from aggregator.domain.source import FetchResult
from connectors import REGISTRY
from tests.fakes import T0, FakeConnector, FixedClock, make_config, make_post


def test_each_source_shows_its_health_in_file_order(db_url: str) -> None:
    clock = FixedClock(T0)
    posts = tuple(make_post("busy", n, at=T0 - timedelta(hours=n * 4)) for n in range(60))
    connector = FakeConnector(
        script={
            "busy": [FetchResult(posts=posts)],
            "broken": [FetchError("broken", "not found (404): check the URL")],
            "quiet": [FetchResult()],
        }
    )
    config = make_config(db_url, ["quiet", "busy", "broken", "resting"])
    paused = replace(config.sources[3], paused=True)
    config = replace(config, sources=(*config.sources[:3], paused))
    with build_app(config, clock=clock, connectors={"rss": connector}) as app:
        fetch_sources(app)
        clock.now = T0 + timedelta(days=20)
        views = {v.source.key: v for v in source_views(app)}
        order = [v.source.key for v in source_views(app)]

    assert order == ["quiet", "busy", "broken", "resting"]
    busy, broken, quiet = views["busy"], views["broken"], views["quiet"]
    assert busy.target == "https://busy.example/feed" and busy.network == "Web"
    assert busy.status is not None and busy.status.last_success_at == T0
    assert (
        broken.is_failing
        and broken.status
        and broken.status.last_error == ("not found (404): check the URL")
    )
    assert quiet.is_stale and not quiet.is_failing
    assert next_fetch(views["resting"], clock.now) is None


def test_posts_a_day_counts_the_last_week(db_url: str) -> None:
    clock = FixedClock(T0)
    # 42 posts within the last 7 days, 10 older ones.
    posts = tuple(make_post("busy", n, at=T0 - timedelta(hours=n * 4)) for n in range(42)) + tuple(
        make_post("busy", 100 + n, at=T0 - timedelta(days=8 + n)) for n in range(10)
    )
    connector = FakeConnector(script={"busy": [FetchResult(posts=posts)]})
    with build_app(
        make_config(db_url, ["busy"]), clock=clock, connectors={"rss": connector}
    ) as app:
        fetch_sources(app)
        (view,) = source_views(app)

    assert view.posts_a_day == 6.0


def test_every_kind_has_a_form_with_help_for_each_of_its_fields() -> None:
    forms = kind_forms()

    assert list(forms) == list(REGISTRY)
    for kind, form in forms.items():
        assert [f.name for f in form.fields] == list(REGISTRY[kind].options)
        for field in form.fields:
            assert len(field.help) > 10, f"{kind}.{field.name} has no help"
    assert [(f.name, f.input, f.default) for f in forms["email_inbox"].fields][1:2] == [
        ("port", "number", "993")
    ]


def test_form_values_are_typed_as_the_file_writes_them() -> None:
    form = {
        "key": " inbox ",
        "name": "",
        "interval_minutes": "30",
        "host": "imap.school.org",
        "port": "99x",
        "username": "news@school.org",
        "password_env": "INBOX_PASSWORD",
        "mailbox": "",
        "mark_read": "on",
    }

    values = source_values("email_inbox", form, editing=False)

    assert values == {
        "key": "inbox",
        "kind": "email_inbox",
        "name": None,
        "interval_minutes": 30,
        "host": "imap.school.org",
        "port": "99x",  # left as typed: the config check says what is wrong
        "username": "news@school.org",
        "password_env": "INBOX_PASSWORD",
        "mailbox": None,
        "mark_read": True,
    }
    edited = source_values("email_inbox", {"host": "imap.school.org"}, editing=True)
    assert "key" not in edited and "kind" not in edited and edited["mark_read"] is False


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_an_empty_form_of_any_kind_is_refused_by_the_config_check(kind: str, tmp_path) -> None:
    from aggregator.app.config_edit import ConfigEdit, EditRejected

    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///p.db"\n', encoding="utf-8")
    edit = ConfigEdit.open(path)
    edit.add(
        "sources",
        {k: v for k, v in source_values(kind, {}, editing=False).items() if v is not None},
    )

    with pytest.raises(EditRejected) as info:
        edit.save({})

    assert "key" in info.value.problems
    required = [n for n, o in REGISTRY[kind].options.items() if o.required]
    assert set(required) <= set(info.value.problems)

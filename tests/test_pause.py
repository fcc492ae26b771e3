"""A paused source: kept in config.toml, not fetched until it is resumed."""

from __future__ import annotations

from dataclasses import replace

from aggregator.app.config import parse_config
from aggregator.app.ingest import fetch_due_sources, fetch_sources
from aggregator.app.wiring import build_app
from aggregator.domain.errors import ConfigError
from aggregator.domain.source import FetchResult
from tests.fakes import FakeConnector, FixedClock, make_config, make_post


def test_a_paused_source_is_not_fetched_and_says_so_when_asked_by_name(db_url: str) -> None:
    config = make_config(db_url, ["kept", "paused"])
    config = replace(config, sources=(config.sources[0], replace(config.sources[1], paused=True)))
    result = [FetchResult(posts=(make_post("kept", 1),))]
    connector = FakeConnector(script={"kept": result, "paused": result})

    with build_app(config, clock=FixedClock(), connectors={"rss": connector}) as app:
        due = {o.source_key: o for o in fetch_due_sources(app)}
        named = {o.source_key: o for o in fetch_sources(app, ["paused"])}

    assert list(due) == ["kept"]
    assert named["paused"].skipped == "paused in the configuration"
    assert [key for key, _ in connector.calls] == ["kept"]


def test_paused_is_a_true_or_false_key_of_any_source() -> None:
    text = '[[sources]]\nkey = "a"\nkind = "rss"\nurl = "https://a.org/f"\npaused = true\n'
    assert parse_config(text, "config.toml", {}).sources[0].paused is True

    try:
        parse_config(text.replace("true", '"yes"'), "config.toml", {})
    except ConfigError as exc:
        assert [p.key for p in exc.problems] == ["sources[1].paused"]
    else:
        raise AssertionError("paused = 'yes' was accepted")


def test_the_scheduler_of_workers_never_enqueues_a_paused_source(db_url: str) -> None:
    from datetime import timedelta

    from aggregator.app.units import plan_fetches

    config = make_config(db_url, ["kept", "paused"])
    config = replace(config, sources=(config.sources[0], replace(config.sources[1], paused=True)))
    with build_app(config, clock=FixedClock(), connectors={}) as app:
        assert plan_fetches(app, timedelta(0)) == ["kept"]

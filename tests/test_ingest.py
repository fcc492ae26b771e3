"""Ingest: every source fetched, every failure recorded, nothing stored twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from aggregator.app.ingest import fetch_due_sources, fetch_sources, next_attempt_at
from aggregator.app.wiring import build_app
from aggregator.domain.errors import AuthError, FetchError, PLNError, RateLimited, SourceGone
from aggregator.domain.source import FetchResult, SourceConfig
from tests.fakes import T0, FakeConnector, FixedClock, make_config, make_post


def _app(db_url: str, keys: list[str], connector: FakeConnector, clock: FixedClock):
    return build_app(make_config(db_url, keys), clock=clock, connectors={"rss": connector})


def _statuses(app):
    return {s.key: s for s in app.repo.source_statuses()}


def test_one_failing_source_does_not_stop_the_others(db_url: str) -> None:
    clock = FixedClock()
    posts = tuple(make_post("good", n) for n in range(3))
    connector = FakeConnector(
        script={
            "good": [FetchResult(posts=posts)],
            "broken": [FetchError("broken", "timed out after 20 s")],
            "buggy": [ZeroDivisionError("boom")],
        }
    )
    with _app(db_url, ["good", "broken", "buggy"], connector, clock) as app:
        outcomes = {o.source_key: o for o in fetch_sources(app)}
        states = _statuses(app)

    assert outcomes["good"].new_posts == 3 and outcomes["good"].status == "ok"
    assert outcomes["broken"].error == "timed out after 20 s"
    assert outcomes["buggy"].error == "unexpected error: ZeroDivisionError: boom"
    assert states["good"].posts_stored == 3
    assert states["broken"].last_error == "timed out after 20 s"
    assert states["broken"].consecutive_failures == 1
    assert states["broken"].next_attempt_at == T0 + timedelta(minutes=5)
    assert states["good"].last_error is None


def test_refetching_the_same_items_stores_nothing_twice(db_url: str) -> None:
    clock = FixedClock()
    same = FetchResult(posts=tuple(make_post("blog", n) for n in range(5)), etag='"v1"')
    connector = FakeConnector(script={"blog": [same]})
    with _app(db_url, ["blog"], connector, clock) as app:
        first = fetch_sources(app)
        clock.advance(hours=1)
        second = fetch_sources(app)
        stored = _statuses(app)["blog"]

    assert (first[0].new_posts, second[0].new_posts, second[0].updated_posts) == (5, 0, 0)
    assert stored.posts_stored == 5
    # The ETag of the first answer goes back to the connector on the next fetch.
    assert connector.calls[1][1].etag == '"v1"'


def test_changed_item_is_updated_in_place(db_url: str) -> None:
    clock = FixedClock()
    before = make_post("blog", 1, text="Draft about exit tickets.")
    after = make_post("blog", 1, text="Final version: exit tickets in three minutes.")
    connector = FakeConnector(
        script={"blog": [FetchResult(posts=(before,)), FetchResult(posts=(after,))]}
    )
    with _app(db_url, ["blog"], connector, clock) as app:
        fetch_sources(app)
        outcome = fetch_sources(app)[0]
        posts = app.repo.posts_for_digest(["blog"], T0 - timedelta(days=1), T0 + timedelta(days=1))

    assert (outcome.new_posts, outcome.updated_posts) == (0, 1)
    assert [p.text for p in posts] == ["Final version: exit tickets in three minutes."]


def test_rate_limited_source_is_skipped_until_the_network_allows(db_url: str) -> None:
    clock = FixedClock()
    reset = T0 + timedelta(minutes=15)
    connector = FakeConnector(
        script={
            "busy": [
                RateLimited("busy", "rate limited (429)", retry_after=reset),
                FetchResult(posts=(make_post("busy", 1),)),
            ],
            "calm": [FetchResult()],
        }
    )
    with _app(db_url, ["busy", "calm"], connector, clock) as app:
        fetch_sources(app)
        clock.advance(minutes=5)
        during = {o.source_key: o for o in fetch_sources(app)}
        clock.advance(minutes=11)
        after = {o.source_key: o for o in fetch_sources(app)}

    assert during["busy"].status == "skipped"
    assert "asked us to wait until" in (during["busy"].skipped or "")
    assert during["calm"].status == "ok"
    assert after["busy"].new_posts == 1
    assert [key for key, _ in connector.calls].count("busy") == 2


def test_gone_feed_is_deactivated_with_its_posts_kept(db_url: str) -> None:
    clock = FixedClock()
    connector = FakeConnector(
        script={
            "old": [
                FetchResult(posts=(make_post("old", 1),)),
                SourceGone("old", "the feed is gone (410 Gone); remove or replace the source"),
            ]
        }
    )
    with _app(db_url, ["old"], connector, clock) as app:
        fetch_sources(app)
        fetch_sources(app)
        clock.advance(days=2)
        third = fetch_due_sources(app)
        state = _statuses(app)["old"]

    assert not state.is_active and state.posts_stored == 1
    assert "410 Gone" in (state.last_error or "")
    assert third == []


def test_only_due_sources_are_fetched_by_the_scheduler_path(db_url: str) -> None:
    clock = FixedClock()
    connector = FakeConnector(script={"a": [FetchResult()], "b": [FetchResult()]})
    with _app(db_url, ["a", "b"], connector, clock) as app:
        assert {o.source_key for o in fetch_due_sources(app)} == {"a", "b"}
        clock.advance(minutes=10)
        assert fetch_due_sources(app) == []
        clock.advance(hours=2)
        assert {o.source_key for o in fetch_due_sources(app)} == {"a", "b"}


def test_naming_an_unknown_source_is_a_user_error(db_url: str) -> None:
    connector = FakeConnector(script={"a": [FetchResult()]})
    with _app(db_url, ["a"], connector, FixedClock()) as app:
        with pytest.raises(PLNError, match="no source with key nope"):
            fetch_sources(app, ["nope"])


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        pytest.param(0, None, timedelta(hours=1), id="success waits one interval"),
        pytest.param(1, None, timedelta(minutes=5), id="first failure retries soon"),
        pytest.param(4, None, timedelta(minutes=40), id="back-off doubles"),
        pytest.param(30, None, timedelta(hours=24), id="capped: tried at least daily"),
        pytest.param(1, T0 + timedelta(hours=3), timedelta(hours=3), id="network reset wins"),
    ],
)
def test_next_attempt_backs_off(failures, retry_after, expected) -> None:
    assert next_attempt_at(T0, failures, retry_after) == T0 + expected


def test_a_partial_fetch_keeps_its_posts_and_records_the_problem(db_url: str) -> None:
    partial = FetchResult(
        posts=(make_post("mix", 1),), problem="page 2 failed: malformed JSON; kept page 1"
    )
    connector = FakeConnector(script={"mix": [partial, FetchResult()]})
    with _app(db_url, ["mix"], connector, FixedClock()) as app:
        outcome = fetch_sources(app)[0]
        state = _statuses(app)["mix"]
        fetch_sources(app)
        cleared = _statuses(app)["mix"]

    assert (outcome.status, outcome.new_posts) == ("partial", 1)
    assert state.last_error == "page 2 failed: malformed JSON; kept page 1"
    assert state.posts_stored == 1 and state.consecutive_failures == 0
    assert cleared.last_error is None


def test_a_refused_credential_fails_every_source_using_it_with_one_call(db_url: str) -> None:
    clock = FixedClock()

    def bluesky(key: str, handle_env: str) -> SourceConfig:
        options = (
            ("app_password_env", f"{handle_env}_PW"),
            ("handle_env", handle_env),
            ("query", key),
        )
        return SourceConfig(key=key, kind="bluesky_search", options=options)

    refused = AuthError("x", "Bluesky login refused (401): check BSKY_SCHOOL and BSKY_SCHOOL_PW")
    connector = FakeConnector(
        script={
            "a": [refused],
            "b": [refused],
            "other": [FetchResult(posts=(make_post("other", 1),))],
        }
    )
    config = replace(
        make_config(db_url, []),
        sources=(
            bluesky("a", "BSKY_SCHOOL"),
            bluesky("b", "BSKY_SCHOOL"),
            bluesky("other", "BSKY_LIB"),
        ),
    )
    with build_app(config, clock=clock, connectors={"bluesky_search": connector}) as app:
        outcomes = {o.source_key: o for o in fetch_sources(app)}
        states = _statuses(app)

    called = [key for key, _ in connector.calls]
    assert sorted(called) in (["a", "other"], ["b", "other"])  # one login attempt, not two
    assert outcomes["a"].error == outcomes["b"].error == refused.message
    assert outcomes["other"].new_posts == 1
    assert states["a"].next_attempt_at == states["b"].next_attempt_at == T0 + timedelta(hours=6)


def test_a_source_is_told_its_fetch_is_first_until_one_succeeds(db_url: str) -> None:
    clock = FixedClock()
    connector = FakeConnector(
        script={"blog": [FetchError("blog", "timed out"), FetchResult(), FetchResult()]}
    )
    with _app(db_url, ["blog"], connector, clock) as app:
        for _ in range(3):
            fetch_sources(app)
            clock.advance(hours=1)

    assert [state.is_first_fetch for _, state in connector.calls] == [True, True, False]

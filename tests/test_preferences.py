"""Teachers' own choices (the manage page's form): checked, saved, and
followed by the next digests: send time, days, minutes, zone, mutes, pauses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from aggregator.app.build import render_digest_for
from aggregator.app.mailer import FileMailer
from aggregator.app.preferences import (
    PreferenceError,
    PreferenceForm,
    preferences_of,
    save_preferences,
    teacher_states,
)
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import App, build_app
from aggregator.config.types import EmailConfig
from aggregator.domain.preferences import NO_PREFERENCES
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from tests.fakes import T0, FixedClock, make_config, make_post

ANA = RecipientConfig(
    email="ana@school.org", name="Ana", timezone="UTC", send_at="11:30", follow=("blog",)
)
TODAY = date(2026, 11, 30)  # T0's day; T0 is 12:00 UTC
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def form(**changes: object) -> PreferenceForm:
    """The form as the manage page shows it for Ana, with `changes`."""
    shown = PreferenceForm(send_at="11:30", days=EVERY_DAY, reading_minutes="5", timezone="UTC")
    return dataclasses.replace(shown, **changes)  # type: ignore[arg-type]


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    config = dataclasses.replace(
        make_config(db_url, ["blog"], (ANA,)),
        email=EmailConfig(from_address="PLN Digest <digest@school.org>"),
    )
    with build_app(config, FixedClock(), connectors={}) as app:
        posts = (
            make_post("blog", 1, at=T0 - timedelta(hours=3), title="Exit tickets"),
            make_post("blog", 2, at=T0 - timedelta(hours=2), title="Webinar on grading"),
        )
        app.repo.save_fetch("blog", FetchResult(posts), T0, T0 + timedelta(hours=1))
        yield app


def sent(app: App, folder: Path) -> list[str]:
    return [o.status for o in send_due_digests(app, FileMailer(folder))]


def test_the_shown_form_saved_as_it_is_changes_nothing(app: App) -> None:
    save_preferences(app, ANA, form(), TODAY)
    assert preferences_of(app, ANA.email) == NO_PREFERENCES


def test_a_later_send_time_and_a_mute_word_apply_from_the_next_digest(
    app: App, tmp_path: Path
) -> None:
    save_preferences(app, ANA, form(send_at="13:00", mute="webinar\n"), TODAY)
    assert sent(app, tmp_path) == []  # 11:30 is no longer her time
    app.clock.advance(hours=1, minutes=1)  # type: ignore[attr-defined]
    assert sent(app, tmp_path) == ["sent"]
    text = render_digest_for(app, ANA.email, "text", TODAY)
    assert "Exit tickets" in text and "Webinar" not in text


def test_a_pause_stops_digests_until_its_day(app: App, tmp_path: Path) -> None:
    save_preferences(app, ANA, form(paused_until="2026-12-02"), TODAY)
    assert teacher_states(app, T0) == [(ANA.email, "paused until 2026-12-02")]
    assert sent(app, tmp_path) == []
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    assert sent(app, tmp_path) == []
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    assert sent(app, tmp_path) == ["sent"]
    assert teacher_states(app, app.clock()) == []


def test_days_off_are_followed(app: App, tmp_path: Path) -> None:
    save_preferences(app, ANA, form(days=("tue", "wed")), TODAY)  # T0 is a Monday
    assert sent(app, tmp_path) == []
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    assert sent(app, tmp_path) == ["sent"]


def test_an_unsubscribed_teacher_shows_in_status(app: App) -> None:
    app.repo.unsubscribe(ANA.email, T0)
    assert teacher_states(app, T0) == [(ANA.email, "unsubscribed")]


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        pytest.param(
            {"paused_until": "2026-11-29"}, "paused_until", "in the past", id="past-pause"
        ),
        pytest.param({"paused_until": "2028-01-01"}, "paused_until", "a year", id="long-pause"),
        pytest.param({"paused_until": "next week"}, "paused_until", "YYYY-MM-DD", id="no-date"),
        pytest.param({"mute": "x" * 10_000}, "mute", "100 characters", id="huge-mute"),
        pytest.param({"mute": "ab, " * 10_000}, "mute", "too long", id="pasted-book"),
        pytest.param({"boost": "y" * 101}, "boost", "100 characters", id="long-phrase"),
        pytest.param(
            {"mute": ",".join(f"w{n}" for n in range(201))}, "mute", "at most 200", id="many"
        ),
        pytest.param({"send_at": "25:00"}, "send_at", "HH:MM", id="bad-time"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", "time zone", id="bad-zone"),
        pytest.param({"timezone": "../../etc/passwd"}, "timezone", "time zone", id="path-zone"),
        pytest.param({"reading_minutes": "0"}, "reading_minutes", "1 to 60", id="no-minutes"),
        pytest.param({"days": ()}, "days", "at least one", id="no-day"),
        pytest.param({"days": ("mon", "someday")}, "days", "among", id="bad-day"),
    ],
)
def test_bad_input_is_refused_with_what_to_change_and_nothing_is_saved(
    app: App, changes: dict[str, object], field: str, why: str
) -> None:
    with pytest.raises(PreferenceError, match=why) as caught:
        save_preferences(app, ANA, form(**{"mute": "homework", **changes}), TODAY)
    assert list(caught.value.problems) == [field]
    assert preferences_of(app, ANA.email) == NO_PREFERENCES


def test_workers_follow_the_choices_too(app: App, tmp_path: Path) -> None:
    from aggregator.app.units import plan_digests, send_unit

    save_preferences(app, ANA, form(paused_until="2026-12-01"), TODAY)
    assert plan_digests(app) == []
    assert send_unit(app, FileMailer(tmp_path), ANA.email, TODAY) is None
    save_preferences(app, ANA, form(send_at="11:45"), TODAY)  # no pause now, a new time
    assert [u.email for u in plan_digests(app)] == [ANA.email]
    outcome = send_unit(app, FileMailer(tmp_path), ANA.email, TODAY)
    assert outcome is not None and outcome.status == "sent"

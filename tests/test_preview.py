"""A preview of any recipient's digest for any day, with its explain rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from aggregator.app.preview import default_day, preview_digest
from aggregator.app.wiring import App, build_app
from aggregator.domain.errors import PLNError
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from tests.fakes import T0, FixedClock, make_config, make_post

ANA = RecipientConfig(
    email="ana@school.org", timezone="UTC", send_at="06:30", follow=("blog",), mute=("webinar",)
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = make_config(f"sqlite:///{tmp_path / 'pln.db'}", ["blog"], (ANA,))
    with build_app(config, FixedClock(), connectors={}) as app:
        posts = (
            make_post("blog", 1, at=T0 - timedelta(hours=3), title="Exit <b>tickets</b> that work"),
            make_post("blog", 2, at=T0 - timedelta(hours=2), title="Free webinar tonight"),
            make_post("blog", 3, at=T0 - timedelta(days=3), title="Three days old"),
        )
        app.repo.save_fetch("blog", FetchResult(posts), T0, T0 + timedelta(hours=1))
        yield app


def test_a_future_day_shows_what_would_be_sent_now(app: App) -> None:
    preview = preview_digest(app, "ANA@school.org", date(2026, 12, 1))
    assert preview.built_at == T0
    assert "would be sent if it went out now" in preview.note
    assert "Exit <b>tickets</b> that work" in preview.text
    assert "Exit &lt;b&gt;tickets&lt;/b&gt; that work" in preview.html
    rows = {row.title: row for row in preview.rows}
    assert rows["Exit <b>tickets</b> that work"].placement == "entry"
    assert rows["Free webinar tonight"].placement == "muted"
    assert rows["Free webinar tonight"].reason == 'mute word "webinar"'
    assert preview.explain[0].startswith("Digest for ana@school.org")


def test_a_past_day_shows_its_own_window(app: App) -> None:
    three_days_ago = preview_digest(app, "ana@school.org", date(2026, 11, 28))
    assert "Three days old" in three_days_ago.text
    assert "Exit" not in three_days_ago.text
    assert "Built now" in three_days_ago.note


def test_unknown_recipients_and_days_out_of_range_are_one_line_errors(app: App) -> None:
    with pytest.raises(PLNError, match="no recipient bob@school.org"):
        preview_digest(app, "bob@school.org", date(2026, 12, 1))
    with pytest.raises(PLNError, match="pick a day from 1970-01-01"):
        preview_digest(app, "ana@school.org", date(1, 1, 1))


def test_the_default_day_is_the_next_digest_day() -> None:
    assert default_day(ANA, T0) == date(2026, 12, 1)  # 12:00 UTC: today's 06:30 is past
    assert default_day(ANA, T0 - timedelta(hours=6)) == date(2026, 11, 30)

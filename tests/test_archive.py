"""The archive: each digest kept exactly as it was sent, read back by
`pln digest --date`, and pruned with `[storage] keep_days`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from aggregator.app.archive import past_digests, sent_digest
from aggregator.app.build import render_digest_for
from aggregator.app.mailer import FileMailer
from aggregator.app.preferences import PreferenceForm, save_preferences
from aggregator.app.preview import preview_digest
from aggregator.app.retention import prune_old_posts
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import App, build_app
from aggregator.config.types import EmailConfig, StorageConfig
from aggregator.domain.errors import TemporaryFailure
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from tests.fakes import T0, FixedClock, make_config, make_post

ANA = "ana@school.org"
DAY = date(2026, 11, 30)


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    ana = RecipientConfig(email=ANA, name="Ana", timezone="UTC", send_at="11:30", follow=("blog",))
    config = make_config(db_url, ["blog"], (ana,))
    config = dataclasses.replace(
        config,
        email=EmailConfig(from_address="PLN Digest <digest@school.org>"),
        storage=StorageConfig(keep_days=30),
    )
    with build_app(config, FixedClock(), connectors={}) as app:
        posts = (make_post("blog", 1, at=T0 - timedelta(hours=3), title="Exit tickets"),)
        app.repo.save_fetch("blog", FetchResult(posts), T0, T0 + timedelta(hours=1))
        yield app


def _parts(folder: Path) -> tuple[str, str]:
    (eml,) = folder.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = message.iter_parts()
    # The wire has CRLF line ends; the copy has the rendered text's.
    return tuple(  # type: ignore[return-value]
        str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]
        for part in (text, html)
    )


def test_a_sent_digest_is_kept_as_sent_and_pln_digest_date_returns_it(
    app: App, tmp_path: Path
) -> None:
    assert [o.status for o in send_due_digests(app, FileMailer(tmp_path))] == ["sent"]
    text, html = _parts(tmp_path)
    # Later posts change what a digest built now would hold, not what was sent.
    later = make_post("blog", 2, at=T0 + timedelta(minutes=5), title="A later idea")
    app.repo.save_fetch("blog", FetchResult((later,)), T0, T0 + timedelta(hours=1))

    kept = sent_digest(app, ANA, DAY)
    # (the email package ends a part with a line break when it has none)
    assert kept is not None and kept.copy.text == text and kept.copy.html == html.rstrip("\n")
    assert "Exit tickets" in kept.copy.subject
    assert render_digest_for(app, ANA, "text", DAY) == text
    assert render_digest_for(app, "Ana@School.org", "html", DAY) == kept.copy.html
    assert [d.local_day for d in past_digests(app, ANA)] == [DAY]


def _refusing(message: EmailMessage, on_commit: Callable[[], None]) -> None:
    raise TemporaryFailure("421 try later")


def test_a_digest_that_did_not_go_out_has_no_copy(app: App) -> None:
    class Refusing:
        send = staticmethod(_refusing)

        def close(self) -> None: ...

    assert [o.status for o in send_due_digests(app, Refusing())] == ["retry"]
    assert sent_digest(app, ANA, DAY) is None
    assert past_digests(app, ANA) == []
    # `pln digest --date` of that day builds it as it would be sent.
    assert "Exit tickets" in render_digest_for(app, ANA, "text", DAY)


def test_archived_digests_are_pruned_after_keep_days(app: App, tmp_path: Path) -> None:
    send_due_digests(app, FileMailer(tmp_path))
    clock = app.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=29)
    prune_old_posts(app)
    assert sent_digest(app, ANA, DAY) is not None
    clock.advance(days=2)
    prune_old_posts(app)
    assert sent_digest(app, ANA, DAY) is None


def test_the_admin_preview_of_a_sent_day_shows_the_copy_that_went_out(
    app: App, tmp_path: Path
) -> None:
    assert [o.status for o in send_due_digests(app, FileMailer(tmp_path))] == ["sent"]
    text, _ = _parts(tmp_path)
    # A post stored later, inside the sent day's window, is not in what was sent.
    late = make_post("blog", 3, at=T0 - timedelta(hours=2), title="Stored after sending")
    app.repo.save_fetch("blog", FetchResult((late,)), T0, T0 + timedelta(hours=1))

    preview = preview_digest(app, ANA, DAY)
    assert preview.text == text
    assert "Stored after sending" not in preview.text
    assert "copy that went out" in preview.note


def test_the_admin_preview_follows_the_teachers_own_mute_words(app: App) -> None:
    save_preferences(
        app,
        app.config.recipients[0],
        PreferenceForm(mute="exit", days=("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        DAY,
    )
    preview = preview_digest(app, ANA, DAY + timedelta(days=1))
    assert "Exit tickets" not in preview.text
    assert [row.placement for row in preview.rows] == ["muted"]


def test_pln_digest_of_an_earlier_day_that_was_not_sent_covers_that_days_window(
    app: App, tmp_path: Path
) -> None:
    day_before = make_post("blog", 4, at=T0 - timedelta(days=1, hours=3), title="Sunday's idea")
    app.repo.save_fetch("blog", FetchResult((day_before,)), T0, T0 + timedelta(hours=1))
    assert [o.status for o in send_due_digests(app, FileMailer(tmp_path))] == ["sent"]

    # No copy of the day before: it is built again, as of its send time,
    # whatever digest went out since.
    assert sent_digest(app, ANA, DAY - timedelta(days=1)) is None
    text = render_digest_for(app, ANA, "text", DAY - timedelta(days=1))
    assert "Sunday's idea" in text
    assert "Exit tickets" not in text  # published after that day's send time

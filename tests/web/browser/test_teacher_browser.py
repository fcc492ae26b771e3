"""Teachers' pages in a real browser: the manage page with the keyboard, a
"less like this" tap, and axe-core on the teacher pages and on the digest
itself, in light and dark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aggregator.app.config import load_config
from aggregator.app.links import FeedbackTarget, LinkSigner, Purpose
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import build_app, build_mailer
from aggregator.domain.source import FetchResult
from tests.fakes import FixedClock
from tests.web.conftest import SECRET, LiveServer, serving, write_web_config
from tests.web.test_teacher_pages import ANA, DAY, EMAIL, PUBLIC, SENT_AT, posts


@pytest.fixture(scope="module")
def teacher_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live `pln serve` after Ana's digest went out."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLN_WEB_SECRET", SECRET)
        patch.setenv("PLN_UNSUBSCRIBE_SECRET", "an-older-unsubscribe-secret-0123456789")
        config_path = write_web_config(
            tmp_path_factory.mktemp("teacher"), EMAIL, f'public_url = "{PUBLIC}"'
        )
        with build_app(load_config(config_path), FixedClock(SENT_AT), connectors={}) as app:
            app.repo.save_fetch("edu-blog", FetchResult(posts()), SENT_AT, SENT_AT)
            send_due_digests(app, build_mailer(app.config.email))
        with serving(config_path, connectors={}) as server:
            yield server


SIGNER = LinkSigner(SECRET)


def test_the_manage_page_saves_a_pause_with_the_keyboard(
    teacher_server: LiveServer, page: Any, axe_check: Any
) -> None:
    page.goto(f"{teacher_server.url}/m/{SIGNER.recipient_token(Purpose.MANAGE, ANA)}")
    axe_check(page)
    page.get_by_label("Mute words (one a line)", exact=False).fill("webinar")
    page.get_by_label("Saturday").uncheck()
    page.get_by_label("Sunday").uncheck()
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "Saved." in page.get_by_role("status").inner_text()
    assert page.get_by_label("Mute words (one a line)", exact=False).input_value() == "webinar"
    assert not page.get_by_label("Sunday").is_checked()
    axe_check(page)
    # A day in the past: the browser itself refuses it (the server would too).
    page.get_by_label("Pause until", exact=False).fill("2020-01-01")
    page.get_by_role("button", name="Save").click()
    assert page.eval_on_selector("#paused_until", "e => e.validity.rangeUnderflow")
    assert page.locator("#paused_until-problem").count() == 0


def test_a_less_like_this_tap_is_recorded_and_shown_for_undoing(
    teacher_server: LiveServer, page: Any, axe_check: Any
) -> None:
    token = SIGNER.feedback_token(FeedbackTarget(ANA, "edu-blog", "edu-blog-2"))
    page.goto(f"{teacher_server.url}/f/less/{token}")
    axe_check(page)
    page.get_by_role("button", name="Show me less like this").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you"
    axe_check(page)
    page.get_by_role("link", name="Undo or see your choices").click()
    assert "source: edu-blog" in page.locator("main").inner_text()


def test_the_other_teacher_pages_pass_axe(
    teacher_server: LiveServer, page: Any, axe_check: Any
) -> None:
    for path in (
        f"/u/{SIGNER.recipient_token(Purpose.UNSUBSCRIBE, ANA)}",
        f"/d/{SIGNER.recipient_token(Purpose.ARCHIVE, ANA)}",
        "/u/not-a-token",
    ):
        page.goto(f"{teacher_server.url}{path}")
        axe_check(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_digest_itself_passes_axe_in_light_and_dark(
    teacher_server: LiveServer, page: Any, axe_check: Any, scheme: str
) -> None:
    page.emulate_media(color_scheme=scheme)
    page.goto(f"{teacher_server.url}/d/{SIGNER.digest_token(ANA, DAY)}")
    assert "Exit tickets that work" in page.content()
    axe_check(page)

"""A digest through the real sending path (SMTP to aiosmtpd on loopback),
checked byte by byte as a mailbox provider would: valid MIME, short lines,
both parts, and the list headers exactly as written on the wire."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from aggregator.app.config import load_config
from aggregator.app.links import LinkSigner, Purpose
from aggregator.app.mailer import SmtpMailer
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import App, build_app
from aggregator.domain.source import FetchResult
from tests.fakes import T0, FixedClock, make_post
from tests.smtp_server import Script, smtp_server

ANA = "ana@school.org"
SECRET = "a-web-secret-for-the-mail-test-0123456789"
LONG_URL = "https://blog.example/" + "a-very-long-path-segment/" * 60


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[bytes, App]]:
    """Ana's digest as the SMTP server received it, and the app that sent it."""
    with pytest.MonkeyPatch.context() as env, smtp_server(script := Script()) as port:
        env.setenv("PLN_WEB_SECRET", SECRET)
        folder = tmp_path_factory.mktemp("hygiene")
        path = folder / "config.toml"
        path.write_text(
            textwrap.dedent(f"""
            [database]
            url = "sqlite:///{folder / "pln.db"}"
            [email]
            smtp_host = "127.0.0.1"
            smtp_port = {port}
            security = "none"
            from = "PLN Digest <digest@school.org>"
            admin = "it@school.org"
            [web]
            public_url = "https://digest.school.org"
            secret_env = "PLN_WEB_SECRET"
            [[sources]]
            key = "blog"
            kind = "rss"
            url = "https://blog.example/feed"
            [[recipients]]
            email = "{ANA}"
            name = "Ana Núñez"
            timezone = "UTC"
            send_at = "11:30"
            follow = ["blog"]
            """),
            encoding="utf-8",
        )
        with build_app(load_config(path), FixedClock(), connectors={}) as app:
            posts = (
                make_post("blog", 1, at=T0 - timedelta(hours=3), title="Écrire: façons d’évaluer"),
                make_post("blog", 2, at=T0 - timedelta(hours=2), url=LONG_URL, text="x" * 3000),
            )
            app.repo.save_fetch("blog", FetchResult(posts), T0, T0 + timedelta(hours=1))
            with SmtpMailer(app.config.email, timeout_s=5) as mailer:
                assert [o.status for o in send_due_digests(app, mailer)] == ["sent"]
            (raw,) = script.raw_to(ANA)
            yield raw, app


def test_the_message_has_no_mime_defect_and_no_line_over_998_bytes(
    sent: tuple[bytes, App],
) -> None:
    raw, _ = sent
    message = message_from_bytes(raw, policy=policy.default)
    assert all(part.defects == [] for part in message.walk())
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert raw.isascii()  # 7-bit: no server needs 8BITMIME


def test_the_message_has_a_text_and_an_html_part_with_the_same_links(
    sent: tuple[bytes, App],
) -> None:
    raw, _ = sent
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())  # type: ignore[attr-defined]
    for part in (text, html):
        assert "https://digest.school.org/d/" in part  # view in browser
        assert "https://digest.school.org/m/" in part  # manage
        assert "https://digest.school.org/u/" in part  # unsubscribe
    assert len(re.findall(r"https://digest\.school\.org/f/(?:more|less)/", html)) == 4


def test_the_list_headers_are_written_exactly(sent: tuple[bytes, App]) -> None:
    raw, app = sent
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    token = LinkSigner(SECRET, app.clock).recipient_token(Purpose.UNSUBSCRIBE, ANA)
    url = f"https://digest.school.org/u/{token}"
    assert f"\r\nList-Unsubscribe: <{url}>,\r\n <mailto:it@school.org?subject=unsubscribe>\r\n" in (
        "\r\n" + header + "\r\n"
    )
    assert "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in header + "\r\n"
    assert "\r\nList-Id: PLN Digest <pln-digest.school.org>\r\n" in header + "\r\n"
    assert header.count("List-Id:") == 1 and header.count("List-Unsubscribe:") == 1


def test_the_archived_copy_is_the_html_that_was_sent(sent: tuple[bytes, App]) -> None:
    raw, app = sent
    message = message_from_bytes(raw, policy=policy.default)
    html = list(message.iter_parts())[1].get_content()  # type: ignore[attr-defined]
    kept = app.repo.archived_digest(ANA, T0.date())
    assert kept is not None and kept.copy.html == html.replace("\r\n", "\n").rstrip("\n")

"""Signed unsubscribe links: made, verified, refused when altered; `pln unsubscribe`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.app.unsubscribe import make_token, make_unsubscribe_url, token_from, verify_token
from aggregator.config.types import EmailConfig
from aggregator.domain.errors import PLNError
from aggregator.domain.secret import Secret
from aggregator.run.cli import output as cli_output
from aggregator.run.cli.commands import main

SECRET = "kJ3v9-unsubscribe-secret-for-tests"
EMAIL = EmailConfig(
    public_url="https://school.org/pln", unsubscribe_secret=Secret("PLN_UNSUBSCRIBE_SECRET", SECRET)
)


def test_a_link_carries_a_token_that_verifies_to_its_address() -> None:
    url = make_unsubscribe_url(EMAIL, "ana@school.org")
    assert url is not None and url.startswith("https://school.org/pln/unsubscribe?token=")
    assert verify_token(EMAIL, token_from(url)) == "ana@school.org"
    assert token_from(url) == make_token(EMAIL, "ana@school.org")


def test_no_link_without_a_public_url_or_a_secret() -> None:
    assert (
        make_unsubscribe_url(
            EmailConfig(unsubscribe_secret=EMAIL.unsubscribe_secret), "ana@school.org"
        )
        is None
    )
    assert make_unsubscribe_url(EmailConfig(public_url="https://school.org"), "a@b.org") is None


def swap_address(token: str, email: str) -> str:
    """The token with another address and the original signature."""
    other = make_token(EMAIL, email).partition(".")[0]
    return f"{other}.{token.partition('.')[2]}"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: swap_address(t, "ben@school.org"), id="other-address"),
        pytest.param(lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), id="signature"),
        pytest.param(lambda t: t.partition(".")[0], id="no-signature"),
        pytest.param(lambda t: t[: len(t) // 2], id="cut-short"),
        pytest.param(lambda t: "!!!." + t.partition(".")[2], id="not-base64"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: t[:3] + "!" + t[3:], id="junk-in-address"),
        pytest.param(lambda t: t[:-3] + "*" + t[-3:], id="junk-in-signature"),
        pytest.param(lambda t: t + "==", id="padding-appended"),
        pytest.param(lambda t: t.replace(".", "=.", 1), id="padding-in-address"),
        pytest.param(lambda t: t[:-1] + chr(ord(t[-1]) ^ 1), id="stray-bits"),
    ],
)
def test_a_tampered_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = make_token(EMAIL, "ana@school.org")
    with pytest.raises(PLNError, match="not a valid unsubscribe link"):
        verify_token(EMAIL, tamper(token))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = EmailConfig(unsubscribe_secret=Secret("PLN_UNSUBSCRIBE_SECRET", "another-secret-1234"))
    with pytest.raises(PLNError, match="not a valid"):
        verify_token(EMAIL, make_token(other, "ana@school.org"))


def test_verifying_without_a_secret_says_what_to_set() -> None:
    with pytest.raises(PLNError, match="unsubscribe_secret_env"):
        verify_token(EmailConfig(), make_token(EMAIL, "ana@school.org"))


# --- pln unsubscribe ------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PLN_LOG_FILE", str(tmp_path / "pln.log"))
    monkeypatch.setenv("PLN_UNSUBSCRIBE_SECRET", SECRET)
    level = logging.getLogger().level
    # Due a minute ago, so `pln send` (on the real clock) has something to send.
    now = datetime.now(UTC)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///pln.db"
[email]
backend = "file"
folder = "outbox"
public_url = "https://school.org/pln"
unsubscribe_secret_env = "PLN_UNSUBSCRIBE_SECRET"
[[recipients]]
email = "ana@school.org"
timezone = "UTC"
send_at = "{now:%H:%M}"
[[recipients]]
email = "ben@school.org"
timezone = "UTC"
send_at = "{now:%H:%M}"
""",
        encoding="utf-8",
    )
    yield path
    cli_output.close_logging()
    logging.getLogger().setLevel(level)


def pln(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_pln_unsubscribe_then_send_skips_that_teacher(config: Path) -> None:
    url = make_unsubscribe_url(EMAIL, "ana@school.org")
    assert url is not None
    assert pln("unsubscribe", "--config", str(config), url) == (
        0,
        "ana@school.org: unsubscribed; no digests until re-enabled with [email] resubscribe\n",
    )
    code, output = pln("send", "--config", str(config), "--dry-run")
    assert code == 0 and "ben@school.org" in output and "ana@school.org" not in output
    assert not (config.parent / "outbox").exists()
    code, output = pln("send", "--config", str(config))
    assert code == 0 and "1 digest sent" in output, output
    assert len(list((config.parent / "outbox").glob("*.eml"))) == 1
    code, output = pln("status", "--config", str(config))
    assert code == 0 and "ben@school.org" in output and "sent" in output, output


def test_pln_unsubscribe_with_a_forged_token_is_one_line_error(config: Path) -> None:
    forged = swap_address(make_token(EMAIL, "ben@school.org"), "ana@school.org")
    code, output = pln("unsubscribe", "--config", str(config), forged)
    assert code == 1 and output.startswith("error: not a valid unsubscribe link")
    assert output.count("\n") == 1

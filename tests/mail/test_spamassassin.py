"""The demo digest, as it is sent, scored by a real SpamAssassin (Debian's).

Network tests are off (`-L`): only the message itself is judged, the way a
school's mail filter judges it before any blocklist. It must score below 1,
with no rule about our HTML beyond "it has some"; and below 1 too with every
link to the service (`[web]`: view in browser, manage, one-click
unsubscribe, "more / less like this" under each story).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator import load_config
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import build_app, build_mailer
from aggregator.run.demo.pipeline import run_demo
from tests.fakes import FixedClock

SPAMASSASSIN = shutil.which("spamassassin")
# Just after Ana's send time (06:30 in Chicago), so her digest is due.
SEND_AT = datetime(2026, 12, 7, 6, 31, tzinfo=ZoneInfo("America/Chicago"))
EMAIL = """
[email]
from = "PLN Digest <digest@school.example>"
backend = "file"
folder = "outbox"
admin = "it@school.example"
public_url = "https://digest.school.example"
unsubscribe_secret_env = "PLN_TEST_UNSUBSCRIBE_SECRET"
"""
WEB = """
[web]
public_url = "https://digest.school.example"
secret_env = "PLN_TEST_WEB_SECRET"
"""


def _sent_demo_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> bytes:
    clock = FixedClock(SEND_AT.astimezone(ZoneInfo("UTC")) - timedelta(minutes=1))
    report = run_demo(tmp_path, clock=clock)
    config = report.config_path
    config.write_text(config.read_text(encoding="utf-8") + EMAIL + extra, encoding="utf-8")
    monkeypatch.setenv("PLN_TEST_UNSUBSCRIBE_SECRET", "s3cret-for-the-spam-test-0123456789")
    monkeypatch.setenv("PLN_TEST_WEB_SECRET", "web-s3cret-for-the-spam-test-0123456789")
    clock.advance(minutes=1)
    with build_app(load_config(config), clock=clock) as app:
        outcomes = send_due_digests(app, build_mailer(app.config.email))
    assert [o.email for o in outcomes if o.status == "sent"] == ["ana@school.example"]
    (message,) = (tmp_path / "outbox").glob("*.eml")
    return message.read_bytes()


@pytest.mark.needs_server(
    SPAMASSASSIN is not None, "spamassassin not installed (apt-get install -y spamassassin)"
)
@pytest.mark.parametrize("extra", [pytest.param("", id="email-only"), pytest.param(WEB, id="web")])
def test_the_demo_digest_scores_below_1_with_no_rule_about_its_html(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str
) -> None:
    message = _sent_demo_digest(tmp_path, monkeypatch, extra)
    if extra:  # the links to the service are there to be judged
        body = message_from_bytes(message, policy=policy.default).get_body(("html",))
        assert body is not None and "/f/more/" in body.get_content()  # type: ignore[attr-defined]
        assert b"\r\nList-Id: PLN Digest" in message

    report = subprocess.run(
        [str(SPAMASSASSIN), "-L", "-t"], input=message, capture_output=True, timeout=120
    ).stdout.decode("utf-8", "replace")

    status = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.MULTILINE)
    assert status is not None, report[-2000:]
    rules = re.findall(r"^\s*(-?\d+\.\d+)\s+([A-Z_0-9]+)\s", report, re.MULTILINE)
    assert float(status.group(1)) < 1.0, rules
    # HTML_MESSAGE only says the message has an HTML part (0.001), as every digest does.
    assert [name for _, name in rules if "HTML" in name and name != "HTML_MESSAGE"] == [], rules

"""`send_due_digests` against a real SMTP server on loopback: exactly once per day."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape as html_escape
from pathlib import Path

import pytest
import sqlalchemy as sa

from aggregator.app import accepted
from aggregator.app.accepted import SENT_RECORD_PATIENCE_S
from aggregator.app.config import parse_config
from aggregator.app.mailer import FileMailer, SmtpMailer
from aggregator.app.send import LEASE, MAX_ATTEMPTS, resend_unknown, send_due_digests
from aggregator.app.unsubscribe import make_token, make_unsubscribe_url, unsubscribe_link
from aggregator.app.wiring import App, build_app
from aggregator.config.schedule import CalendarConfig, Holiday, ScheduleConfig
from aggregator.config.types import EmailConfig
from aggregator.domain.address import MAX_ADDRESS_CHARS
from aggregator.domain.delivery import Claim
from aggregator.domain.errors import PLNError, ServerUnavailable, StorageError
from aggregator.domain.limits import SOURCE_KEY_CHARS, STORED_ADDRESS_CHARS
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchResult
from aggregator.run.service import health_claim_key
from aggregator.store.repository import Repository
from aggregator.store.tables import Base
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.fakes import T0, FixedClock, make_config, make_post
from tests.smtp_server import Script, free_port, smtp_server
from tests.tcp_proxy import tcp_proxy

ANA = "ana@school.org"
BEN = "ben@school.org"
DAY = date(2026, 11, 30)
SECRET = Secret("PLN_UNSUBSCRIBE_SECRET", "0123456789abcdef-test-secret")


@dataclass
class World:
    app: App
    clock: FixedClock
    script: Script
    port: int

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(self.app.config.email, timeout_s=5)

    def send(self, **kwargs: object) -> dict[str, str]:
        """One `pln send`: {email: status}."""
        with self.mailer() as mailer:
            outcomes = send_due_digests(self.app, mailer, **kwargs)  # type: ignore[arg-type]
        return {o.email: o.status for o in outcomes}


def email_config(port: int, **changes: object) -> EmailConfig:
    config = EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=port,
        security="none",
        from_address="PLN Digest <digest@school.org>",
        admin="it@school.org",
        public_url="https://school.org/pln",
        unsubscribe_secret=SECRET,
    )
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def make_app(
    db_url: str,
    clock: FixedClock,
    email: EmailConfig,
    ana_name: str = "Ana",
    title: str = "Exit tickets that work",
) -> App:
    recipients = (
        # 11:30 UTC and 06:00 in Chicago (12:00 UTC): both due at T0 = 12:00 UTC.
        RecipientConfig(
            email=ANA, name=ana_name, timezone="UTC", send_at="11:30", follow=("blog",)
        ),
        RecipientConfig(
            email=BEN, name="Ben", timezone="America/Chicago", send_at="06:00", follow=("blog",)
        ),
    )
    config = dataclasses.replace(make_config(db_url, ["blog"], recipients), email=email)
    app = build_app(config, clock, connectors={})
    posts = (
        make_post("blog", 1, at=T0 - timedelta(hours=3), title=title),
        make_post("blog", 2, at=T0 - timedelta(hours=2)),
    )
    app.repo.save_fetch("blog", FetchResult(posts), T0, T0 + timedelta(hours=1))
    return app


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    script = Script()
    clock = FixedClock()
    with smtp_server(script) as port, make_app(db_url, clock, email_config(port)) as app:
        yield World(app, clock, script, port)


def test_each_due_recipient_gets_one_digest_over_one_connection(world: World) -> None:
    before = world.script.connections
    assert world.send() == {ANA: "sent", BEN: "sent"}
    assert world.script.connections - before == 1
    (message,) = world.script.to(ANA)
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (
        text.get_content_type() == "text/plain" and "Exit tickets that work" in text.get_content()
    )
    assert html.get_content_type() == "text/html" and "<html" in html.get_content()
    assert message["From"] == "PLN Digest <digest@school.org>"
    assert message["To"].addresses[0].display_name == "Ana"
    assert message["To"].addresses[0].addr_spec == ANA
    assert message["Message-ID"].endswith("@school.org>")
    assert message["Date"].datetime == T0
    assert message["Subject"]
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://school.org/pln/unsubscribe?token=")
    assert "<mailto:it@school.org?subject=unsubscribe>" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert make_token(world.app.config.email, ANA) in text.get_content()
    link = unsubscribe.split(">")[0].lstrip("<")
    assert f"Unsubscribe: {link}" in text.get_content()
    assert f'href="{html_escape(link)}"' in html.get_content()  # the footer's link
    (sent,) = [s for s in world.app.repo.latest_deliveries() if s.email == ANA]
    assert (sent.status, sent.message_id, sent.sent_at) == ("sent", message["Message-ID"], T0)


def test_a_second_send_the_same_day_sends_nothing(world: World) -> None:
    world.send()
    world.clock.advance(hours=1)
    assert world.send() == {}
    assert len(world.script.received) == 2


def test_next_day_digest_starts_where_the_last_one_ended(world: World) -> None:
    world.send()
    world.clock.advance(days=1)
    assert world.send() == {ANA: "sent", BEN: "sent"}
    assert world.app.repo.last_digest_at(ANA) == T0 + timedelta(days=1)


@pytest.mark.parametrize(
    "name, title",
    [
        pytest.param("Ana\r\nBcc: evil@x", "Exit tickets", id="recipient-name"),
        pytest.param("Ana", "Exit tickets\r\nBcc: evil@x", id="post-title"),
        pytest.param("Ana\nX-Evil: 1", "Exit\rBcc: evil@x", id="bare-cr-lf"),
    ],
)
def test_no_name_or_title_can_inject_a_header(db_url: str, name: str, title: str) -> None:
    script, clock = Script(), FixedClock()
    with (
        smtp_server(script) as port,
        make_app(db_url, clock, email_config(port), ana_name=name, title=title) as app,
    ):
        with SmtpMailer(app.config.email) as mailer:
            send_due_digests(app, mailer, only=ANA)
    ((rcpts, message),) = script.received
    assert rcpts == [ANA]
    assert "Bcc" not in message and "X-Evil" not in message
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "List-Id",
            "MIME-Version",
            "Content-Type",
        ]
    )


def test_4xx_is_retried_after_back_off_and_delivered_once(world: World) -> None:
    world.script.rcpt[ANA] = ["451 4.3.0 try again later"]
    assert world.send() == {ANA: "retry", BEN: "sent"}
    assert world.script.to(ANA) == []
    world.clock.advance(minutes=4)
    assert world.send() == {}  # back-off: not before 5 minutes
    world.clock.advance(minutes=1)
    assert world.send() == {ANA: "sent"}
    world.clock.advance(hours=2)
    assert world.send() == {}
    assert len(world.script.to(ANA)) == 1 and len(world.script.to(BEN)) == 1


def test_a_drop_before_the_end_of_the_message_is_retried_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.script.drop_mid_data[ANA] = 1
    record = world.app.repo.mark_unknown

    def after_the_hang_up(*args: object) -> None:  # the end-of-data mark follows it
        assert world.script.hung_up.wait(5)
        record(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(world.app.repo, "mark_unknown", after_the_hang_up)
    assert world.send() == {ANA: "retry", BEN: "sent"}  # Ben: over a new connection
    assert world.script.to(ANA) == []
    world.clock.advance(minutes=5)
    assert world.send() == {ANA: "sent"}
    world.clock.advance(hours=3)
    assert world.send() == {}
    assert len(world.script.to(ANA)) == 1


def test_a_drop_after_the_whole_message_is_never_resent(world: World) -> None:
    """The server took it but never answered: it may be delivered, so no second copy."""
    world.script.drop_after_data[ANA] = 1
    assert world.send() == {ANA: "unknown", BEN: "sent"}
    for _ in range(3):
        world.clock.advance(hours=1)
        assert world.send() == {}
    assert len(world.script.to(ANA)) == 1
    (state,) = [s for s in world.app.repo.latest_deliveries() if s.email == ANA]
    assert state.status == "unknown"
    assert state.message_id == world.script.to(ANA)[0]["Message-ID"]


def test_an_unknown_digest_is_resent_only_when_the_admin_says_so(world: World) -> None:
    world.script.drop_after_data[ANA] = 1
    assert world.send() == {ANA: "unknown", BEN: "sent"}
    with pytest.raises(PLNError, match="no digest of unknown fate"), world.mailer() as mailer:
        resend_unknown(world.app, mailer, BEN, DAY)  # Ben's went out fine
    world.clock.advance(hours=1)
    with world.mailer() as mailer:
        outcome = resend_unknown(world.app, mailer, ANA, DAY)
    assert (outcome.status, outcome.local_day) == ("sent", DAY)
    assert len(world.script.to(ANA)) == 2  # the admin's call: the first was never accepted
    assert world.send() == {}


def test_a_crash_before_sending_is_sent_once_its_claim_expires(world: World) -> None:
    """A claim left by a process killed before SMTP: nothing reached the server."""
    world.app.repo.claim_delivery(ANA, DAY, T0, LEASE)
    assert world.send() == {BEN: "sent"}
    world.clock.advance(seconds=LEASE.total_seconds())
    assert world.send() == {ANA: "sent"}
    assert world.send() == {}
    assert len(world.script.to(ANA)) == 1


def test_one_recipients_5xx_does_not_stop_the_others(world: World) -> None:
    world.script.rcpt[ANA] = ["550 5.1.1 no such mailbox"]
    assert world.send() == {ANA: "failed", BEN: "sent"}
    world.clock.advance(hours=1)
    assert world.send() == {}
    (state,) = [s for s in world.app.repo.latest_deliveries() if s.email == ANA]
    assert state.status == "failed" and "550" in (state.last_error or "")


def test_a_persistent_4xx_is_given_up_after_the_last_attempt(world: World) -> None:
    world.script.rcpt[ANA] = ["451 4.3.0 busy"] * 10
    statuses = []
    for _ in range(MAX_ATTEMPTS):
        statuses.append(world.send().get(ANA))
        world.clock.advance(hours=1)
    assert statuses == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert world.send() == {}


def test_an_unreachable_server_is_tried_once_and_everyone_retried(db_url: str) -> None:
    clock = FixedClock()
    with make_app(db_url, clock, email_config(free_port())) as app:
        with SmtpMailer(app.config.email, timeout_s=2) as mailer:
            outcomes = send_due_digests(app, mailer)
    assert [(o.email, o.status) for o in outcomes] == [(ANA, "retry"), (BEN, "retry")]
    assert all("server unavailable" in o.error for o in outcomes)


@dataclass
class UnavailableMailer:
    """A mailer whose server cannot be reached; counts the tries."""

    tries: int = 0

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        self.tries += 1
        raise ServerUnavailable("cannot use SMTP server 127.0.0.1:1: connection refused")

    def close(self) -> None:
        pass


def test_an_unavailable_server_is_tried_once_per_batch_up_to_the_last_attempt(
    db_url: str,
) -> None:
    clock, mailer = FixedClock(), UnavailableMailer()
    with make_app(db_url, clock, email_config(1)) as app:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcomes = send_due_digests(app, mailer)
            assert mailer.tries == attempt  # Ben's digest never tries the server again
            status = "failed" if attempt == MAX_ATTEMPTS else "retry"
            assert [(o.email, o.status) for o in outcomes] == [(ANA, status), (BEN, status)]
            assert all(
                "server unavailable: cannot use SMTP server 127.0.0.1:1" in o.error
                for o in outcomes
            )
            clock.advance(hours=1)


def test_dry_run_sends_and_records_nothing(world: World) -> None:
    with world.mailer() as mailer:
        outcomes = send_due_digests(world.app, mailer, dry_run=True)
    assert {o.email: o.status for o in outcomes} == {ANA: "would send", BEN: "would send"}
    assert all(o.subject and o.post_count == 2 for o in outcomes)
    assert world.script.received == []
    assert world.app.repo.latest_deliveries() == []
    assert world.send() == {ANA: "sent", BEN: "sent"}


def test_only_one_recipient(world: World) -> None:
    assert world.send(only="BEN@school.org") == {BEN: "sent"}
    assert world.send() == {ANA: "sent"}


def test_an_unsubscribed_recipient_gets_nothing_until_re_enabled(world: World) -> None:
    url = (
        world.app.config.email.public_url
        + "/unsubscribe?token="
        + make_token(world.app.config.email, ANA)
    )
    assert unsubscribe_link(world.app, url) == (ANA, True)
    assert unsubscribe_link(world.app, url) == (ANA, False)
    assert world.send() == {BEN: "sent"}
    world.clock.advance(days=1)
    assert world.send() == {BEN: "sent"}
    # The admin re-enables Ana with the day they did it.
    email = dataclasses.replace(world.app.config.email, resubscribe=((ANA, DAY),))
    world.app.config = dataclasses.replace(world.app.config, email=email)
    world.clock.advance(days=1)
    assert world.send() == {ANA: "sent", BEN: "sent"}
    assert len(world.script.to(ANA)) == 1


def test_file_backend_writes_one_eml_per_digest(db_url: str, tmp_path: Path) -> None:
    clock = FixedClock()
    outbox = tmp_path / "outbox"
    with make_app(db_url, clock, email_config(1, backend="file", folder=str(outbox))) as app:
        outcomes = send_due_digests(app, FileMailer(outbox))
        assert send_due_digests(app, FileMailer(outbox)) == []
    files = sorted(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(str(m["Message-ID"]) for m in parsed) == sorted(o.message_id for o in outcomes)
    assert {m["To"].addresses[0].addr_spec for m in parsed} == {ANA, BEN}


def test_the_configured_grace_and_holidays_decide_what_is_due(world: World) -> None:
    config = world.app.config
    world.app.config = dataclasses.replace(
        config, schedule=ScheduleConfig(misfire_grace_minutes=10)
    )
    assert world.send() == {ANA: "missed", BEN: "sent"}  # Ana's 11:30 is 30 minutes late
    assert world.send() == {}  # the missed day is recorded: reported once, never sent late
    world.app.config = dataclasses.replace(
        config,
        calendar=CalendarConfig(
            (Holiday(DAY + timedelta(days=1), DAY + timedelta(days=1), "Break"),)
        ),
    )
    world.clock.advance(days=1)
    assert world.send() == {}
    world.clock.advance(days=1)
    assert world.send() == {ANA: "sent", BEN: "sent"}


def test_empty_days_send_a_kind_note_or_nothing_as_configured(world: World) -> None:
    assert world.send() == {ANA: "sent", BEN: "sent"}
    world.clock.advance(days=1)  # nothing new was stored since
    world.app.config = dataclasses.replace(
        world.app.config, digest=dataclasses.replace(world.app.config.digest, skip_empty=True)
    )
    assert world.send() == {ANA: "skipped", BEN: "skipped"}
    assert world.send() == {}  # the skipped day is recorded
    assert len(world.script.to(ANA)) == 1
    world.clock.advance(days=1)
    world.app.config = dataclasses.replace(
        world.app.config, digest=dataclasses.replace(world.app.config.digest, skip_empty=False)
    )
    assert world.send() == {ANA: "sent", BEN: "sent"}
    (_, quiet) = world.script.to(ANA)
    assert "nothing new" in str(quiet["Subject"])


# -- the message on the wire ---------------------------------------------------------

LONG_ADDRESS = (
    "anastasia.konstantinopoulou-rodriguez@mathematics-department.lincoln-middle-school.example.org"
)
REAL_PUBLIC_URL = "https://professional-learning.lincoln-middle-school.example.org/pln-digest"
ENCODED_WORD = re.compile(r"=\?utf-8\?[qb]\?[^?\s]*\?=", re.IGNORECASE)


def header_block(raw: bytes) -> list[bytes]:
    """The header lines of a message exactly as they arrived, folds unjoined."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n")


def unfolded(lines: list[bytes]) -> dict[str, str]:
    """Each header's raw value with its folds joined (RFC 5322 2.2.3), by lower-case name."""
    fields: list[str] = []
    for line in lines:
        text = line.decode("ascii")
        if text[:1] in (" ", "\t"):
            fields[-1] += text
        else:
            fields.append(text)
    return {f.split(":", 1)[0].lower(): f.split(":", 1)[1].strip() for f in fields}


def test_headers_go_on_the_wire_as_the_rfcs_ask_with_a_real_length_unsubscribe_link(
    db_url: str,
) -> None:
    """A signed link for a long address is longer than a 78-character line: it must
    still go out as a literal <https://...> (RFC 2369, RFC 8058), never RFC 2047
    encoded, or mail programs show no Unsubscribe button."""
    script, clock = Script(), FixedClock()
    title = "Évaluation formative : les retours d’élèves qui changent la leçon"
    name = 'Anastasia "Ana" Konstantinopoulou-Rodríguez, Maths'
    with smtp_server(script) as port:
        email = email_config(
            port,
            public_url=REAL_PUBLIC_URL,
            from_address="PLN Digest — Lincoln <digest@lincoln-middle-school.example.org>",
        )
        recipient = RecipientConfig(
            email=LONG_ADDRESS, name=name, timezone="UTC", send_at="11:30", follow=("blog",)
        )
        config = dataclasses.replace(make_config(db_url, ["blog"], (recipient,)), email=email)
        with build_app(config, clock, connectors={}) as app:
            post = make_post("blog", 1, at=T0 - timedelta(hours=3), title=title)
            app.repo.save_fetch("blog", FetchResult((post,)), T0, T0 + timedelta(hours=1))
            with SmtpMailer(email, timeout_s=5) as mailer:
                (outcome,) = send_due_digests(app, mailer)
            url = make_unsubscribe_url(email, LONG_ADDRESS)
    assert outcome.status == "sent" and url is not None and len(url) > 200
    (raw,) = script.raw_to(LONG_ADDRESS)
    lines = header_block(raw)
    assert all(len(line) <= 998 and line.isascii() for line in raw.split(b"\r\n"))
    headers = unfolded(lines)
    assert headers["list-unsubscribe"] == (f"<{url}>, <mailto:it@school.org?subject=unsubscribe>")
    assert f"List-Unsubscribe: <{url}>,".encode() in lines
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    # The neighbours: encoded words only where RFC 2047 allows them, each at most
    # 75 characters (RFC 2047 2); addresses and the Message-ID literal.
    for header in ("subject", "from", "to"):
        assert all(len(word) <= 75 for word in ENCODED_WORD.findall(headers[header]))
    assert "=?" not in headers["message-id"]
    assert re.fullmatch(r"<[^<>@\s]+@lincoln-middle-school\.example\.org>", headers["message-id"])
    assert headers["to"].endswith(f"<{LONG_ADDRESS}>")
    assert headers["from"].endswith("<digest@lincoln-middle-school.example.org>")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == outcome.subject and "Évaluation formative" in parsed["Subject"]
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["From"].addresses[0].display_name == "PLN Digest — Lincoln"


# -- one digest's failure is that digest's alone ---------------------------------------


def app_with(db_url: str, clock: FixedClock, email: EmailConfig, *addresses: str) -> App:
    """An app whose recipients (built directly, past `pln check`) are all due at T0."""
    recipients = tuple(
        RecipientConfig(email=a, name="Teacher", timezone="UTC", send_at="11:30", follow=("blog",))
        for a in addresses
    )
    config = dataclasses.replace(make_config(db_url, ["blog"], recipients), email=email)
    app = build_app(config, clock, connectors={})
    post = make_post("blog", 1, at=T0 - timedelta(hours=3))
    app.repo.save_fetch("blog", FetchResult((post,)), T0, T0 + timedelta(hours=1))
    return app


@pytest.mark.parametrize(
    "bad, why",
    [
        pytest.param("ana..smith@school.org", "two dots in a row", id="double-dot"),
        pytest.param("anä@school.org", "only ASCII addresses", id="non-ascii"),
        pytest.param('ana"x@school.org', "contains '\"' before the @", id="quote"),
        pytest.param("ana\x00@school.org", "control character (U+0000)", id="nul"),
    ],
)
def test_one_unsendable_address_never_stops_the_batch(db_url: str, bad: str, why: str) -> None:
    if "\x00" in bad and db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL text cannot hold a NUL: only pln check can refuse it there")
    script, clock = Script(), FixedClock()
    with smtp_server(script) as port:
        with app_with(db_url, clock, email_config(port), ANA, bad, BEN) as app:
            with SmtpMailer(app.config.email, timeout_s=5) as mailer:
                first = {o.email: o for o in send_due_digests(app, mailer)}
            clock.advance(seconds=LEASE.total_seconds() + 60)
            with SmtpMailer(app.config.email, timeout_s=5) as mailer:
                again = send_due_digests(app, mailer)
            recorded = {s.email: s for s in app.repo.latest_deliveries()}
    assert {e: o.status for e, o in first.items()} == {ANA: "sent", bad: "failed", BEN: "sent"}
    assert (
        first[bad].error.startswith("cannot be sent to: the address ") and why in first[bad].error
    )
    assert again == []  # recorded as failed for the day: not claimed again at the lease end
    assert recorded[bad].status == "failed" and why in (recorded[bad].last_error or "")
    assert len(script.to(ANA)) == 1 and len(script.to(BEN)) == 1


@dataclass
class BreakingMailer:
    """An SMTP mailer that breaks in a way no one planned for, for one address:
    before the end of the message, or after it went out."""

    inner: SmtpMailer
    address: str
    after_commit: bool = False

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        if message["To"].addresses[0].addr_spec != self.address:
            self.inner.send(message, on_commit)
            return
        if self.after_commit:
            on_commit()
        raise RuntimeError("a bug in a mailer\nsecond line")

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-the-end", "after-the-end"])
def test_an_unexpected_error_is_that_digests_failure_recorded_by_how_far_it_got(
    world: World, after_commit: bool
) -> None:
    with closing(BreakingMailer(world.mailer(), ANA, after_commit)) as mailer:
        outcomes = {o.email: o for o in send_due_digests(world.app, mailer)}
    assert outcomes[BEN].status == "sent"
    error = "unexpected RuntimeError: a bug in a mailer (see the log)"
    assert outcomes[ANA].error == error
    (state,) = [s for s in world.app.repo.latest_deliveries() if s.email == ANA]
    if after_commit:  # the end of the message may have gone: never sent again by itself
        assert outcomes[ANA].status == state.status == "unknown"
    else:  # nothing can have been accepted: tried again after back-off
        assert outcomes[ANA].status == state.status == "retry"
    assert state.last_error == error


# -- an address is one identity whatever its case ------------------------------------


def test_a_case_only_change_of_an_address_is_the_same_teacher(world: World) -> None:
    """ana@school.org becomes Ana@School.ORG in the file and the configuration is
    reloaded: no second digest that day, and one unsubscribe stops both spellings."""
    assert world.send() == {ANA: "sent", BEN: "sent"}
    old = world.app.config
    renamed = tuple(
        RecipientConfig(
            email="Ana@School.ORG",
            name=r.name,
            timezone=r.timezone,
            send_at=r.send_at,
            follow=r.follow,
        )
        if r.email == ANA
        else r
        for r in old.recipients
    )
    world.app.close()
    world.app = build_app(dataclasses.replace(old, recipients=renamed), world.clock, connectors={})
    world.clock.advance(minutes=30)
    assert world.send() == {}
    assert len(world.script.to(ANA)) == 1
    token = make_token(world.app.config.email, "Ana@School.ORG")  # a link made for that spelling
    assert unsubscribe_link(world.app, token) == ("Ana@School.ORG", True)
    assert unsubscribe_link(world.app, make_token(world.app.config.email, ANA)) == (ANA, False)
    world.clock.advance(days=1)
    assert world.send() == {BEN: "sent"}
    assert [s.email for s in world.app.repo.latest_deliveries()] == [ANA, BEN]
    world.app.close()


def test_the_to_header_keeps_the_address_as_written(world: World) -> None:
    recipient = dataclasses.replace(world.app.config.recipients[0], email="Ana@School.ORG")
    world.app.config = dataclasses.replace(world.app.config, recipients=(recipient,))
    assert world.send() == {ANA: "sent"}
    ((rcpts, message),) = world.script.received
    assert rcpts == ["Ana@School.ORG"]
    assert message["To"].addresses[0].addr_spec == "Ana@School.ORG"


# -- never two digests within the minimum gap ------------------------------------------


def test_moving_a_time_zone_never_sends_a_second_digest_within_12_hours(db_url: str) -> None:
    """Pacific/Auckland -> Pacific/Honolulu crosses back to a local day not yet
    sent: that day is skipped and reported like a missed one."""
    script, clock = Script(), FixedClock(T0 + timedelta(hours=5, minutes=30))  # 17:30 UTC
    with smtp_server(script) as port, app_with(db_url, clock, email_config(port)) as app:
        ana = RecipientConfig(
            email=ANA, timezone="Pacific/Auckland", send_at="06:30", follow=("blog",)
        )
        app.config = dataclasses.replace(app.config, recipients=(ana,))
        with SmtpMailer(app.config.email, timeout_s=5) as mailer:
            (first,) = send_due_digests(app, mailer)  # 06:30 on Tuesday 1 December there
            assert (first.status, first.local_day) == ("sent", DAY + timedelta(days=1))
            moved = dataclasses.replace(ana, timezone="Pacific/Honolulu")
            app.config = dataclasses.replace(app.config, recipients=(moved,))
            clock.advance(minutes=5)  # 07:35 on Monday 30 November in Honolulu
            (skipped,) = send_due_digests(app, mailer)
            assert (skipped.status, skipped.local_day) == ("missed", DAY)
            assert "at least 12 hours apart" in skipped.error
            assert send_due_digests(app, mailer) == []  # recorded: reported once
            clock.advance(days=1, minutes=-65)  # 06:30 on 1 December in Honolulu: sent already
            assert send_due_digests(app, mailer) == []
            clock.advance(days=1)
            (next_one,) = send_due_digests(app, mailer)
            assert (next_one.status, next_one.local_day) == ("sent", DAY + timedelta(days=2))
        recorded = app.repo.recorded_days([ANA], DAY)
    assert recorded == {ANA: {DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)}}
    assert len(script.to(ANA)) == 2


# -- the longest values pln check accepts fit the database ------------------------------

LONGEST_KEY = "k" * SOURCE_KEY_CHARS
LONGEST_ADDRESS = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"


def test_the_longest_key_and_address_pln_check_accepts_work_on_every_database(
    db_url: str, tmp_path: Path
) -> None:
    assert len(LONGEST_ADDRESS) == MAX_ADDRESS_CHARS
    text = f"""
        [database]
        url = "{db_url}"

        [email]
        backend = "file"
        folder = "{tmp_path / "outbox"}"
        admin = "{LONGEST_ADDRESS}"

        [[sources]]
        key = "{LONGEST_KEY}"
        kind = "rss"
        url = "https://blog.example/feed"

        [[recipients]]
        email = "{LONGEST_ADDRESS}"
        timezone = "UTC"
        send_at = "11:30"
        follow = ["{LONGEST_KEY}"]
    """
    config = parse_config(textwrap.dedent(text), tmp_path / "config.toml", {})
    clock = FixedClock()
    with build_app(config, clock, connectors={}) as app:
        post = make_post(LONGEST_KEY, 1, at=T0 - timedelta(hours=1))
        app.repo.save_fetch(LONGEST_KEY, FetchResult((post,)), T0, T0 + timedelta(hours=1))
        (outcome,) = send_due_digests(app, FileMailer(tmp_path / "outbox"))
        assert (outcome.status, outcome.post_count) == ("sent", 1)
        assert app.repo.claim_delivery(health_claim_key(LONGEST_ADDRESS), DAY, T0, LEASE)
        assert [s.key for s in app.repo.source_statuses()] == [LONGEST_KEY]


@pytest.mark.parametrize(
    "table, column, size",
    [
        ("sources", "key", SOURCE_KEY_CHARS),
        ("posts", "source_key", SOURCE_KEY_CHARS),
        ("recipients", "email", STORED_ADDRESS_CHARS),
        ("digests", "recipient_email", STORED_ADDRESS_CHARS),
    ],
)
def test_the_columns_are_as_long_as_pln_check_allows(table: str, column: str, size: int) -> None:
    assert Base.metadata.tables[table].c[column].type.length == size
    assert len(health_claim_key(LONGEST_ADDRESS)) <= STORED_ADDRESS_CHARS


# -- a database outage right after the server accepted a digest -----------------------


@dataclass
class FakeTime:
    """`time.monotonic` and `time.sleep` for `aggregator.app.accepted`: a wait
    passes at once, and `at` runs what is due once the time has come."""

    now: float = 0.0
    waits: list[float] = field(default_factory=list)
    at: dict[float, Callable[[], None]] = field(default_factory=dict)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        for when in sorted(t for t in self.at if t <= self.now):
            self.at.pop(when)()


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(accepted, "_monotonic", fake.monotonic)
    monkeypatch.setattr(accepted, "_sleep", fake.sleep)
    return fake


@dataclass
class Outage:
    """The database refusing every write from the moment the server took the
    message until `ended` (a store whose engine is down fails the same way)."""

    ended: bool = False
    started: bool = False

    def break_writes(self, repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
        real = repo.mark_sent

        def mark_sent(claim: Claim, now: datetime) -> None:
            if self.started and not self.ended:
                raise StorageError("recording the delivery failed: connection refused")
            real(claim, now)

        monkeypatch.setattr(repo, "mark_sent", mark_sent)


@pytest.mark.parametrize("outage_s, status", [(100, "sent"), (None, "unknown")])
def test_a_database_outage_after_acceptance_is_waited_out_for_minutes(
    world: World,
    fake_time: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    outage_s: float | None,
    status: str,
) -> None:
    outage = Outage()
    outage.break_writes(world.app.repo, monkeypatch)
    world.script.on_accept = lambda: setattr(outage, "started", True)
    if outage_s is not None:
        fake_time.at[outage_s] = lambda: setattr(outage, "ended", True)
    with world.mailer() as mailer:
        outcomes = {o.email: o for o in send_due_digests(world.app, mailer, only=ANA)}
    assert outcomes[ANA].status == status
    if outage_s is not None:  # 1, 2, 4, 8, 15, then 30 s apart: recorded at 120 s
        assert fake_time.waits == [1, 2, 4, 8, 15, 30, 30, 30]
    else:  # given up after three minutes: left unknown, never sent again
        assert sum(fake_time.waits) == SENT_RECORD_PATIENCE_S == 180
        assert outcomes[ANA].error.startswith("accepted by the mail server, but not recorded")
        outage.ended = True
        world.clock.advance(hours=1)
        assert world.send() == {BEN: "sent"}
    (state,) = [s for s in world.app.repo.latest_deliveries() if s.email == ANA]
    assert state.status == status and len(world.script.to(ANA)) == 1


@pytest.mark.needs_server(bool(POSTGRES_URL), "PLN_TEST_DATABASE_URL is not set")
def test_a_real_postgresql_outage_after_acceptance_is_waited_out(fake_time: FakeTime) -> None:
    """The connections to PostgreSQL drop, and new ones are refused, from the
    moment the server took the message; it answers again 40 s later."""
    _reset_postgres(POSTGRES_URL)
    url = sa.make_url(POSTGRES_URL)
    with tcp_proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        script, clock = Script(on_accept=proxy.cut), FixedClock()
        fake_time.at[40] = proxy.restore
        with smtp_server(script) as port, make_app(through, clock, email_config(port)) as app:
            with SmtpMailer(app.config.email, timeout_s=5) as mailer:
                (outcome,) = send_due_digests(app, mailer, only=ANA)
            (state,) = [s for s in app.repo.latest_deliveries() if s.email == ANA]
    assert (outcome.status, state.status) == ("sent", "sent")
    assert 40 <= sum(fake_time.waits) < SENT_RECORD_PATIENCE_S and len(script.to(ANA)) == 1

"""Messages and mailers: headers built by the email API, SMTP in every security
mode against a real server on loopback, the .eml file backend."""

from __future__ import annotations

import dataclasses
import ssl
import string
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.app.mailer import FileMailer, SmtpMailer, build_message
from aggregator.app.unsubscribe import make_unsubscribe_url
from aggregator.app.wiring import build_mailer
from aggregator.config.types import EmailConfig
from aggregator.domain.address import address_problem
from aggregator.domain.errors import (
    PermanentFailure,
    ServerUnavailable,
    StorageError,
    TemporaryFailure,
    UnknownOutcome,
)
from aggregator.domain.limits import PUBLIC_URL_CHARS
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.secret import Secret
from tests.fakes import T0
from tests.smtp_server import Script, smtp_server

CERTS = Path(__file__).resolve().parent / "data" / "smtp"
ANA = RecipientConfig(email="ana@school.org", name="Ana Díaz")
PASSWORD = Secret("PLN_SMTP_PASSWORD", "correct horse")


def message(
    to: RecipientConfig = ANA,
    subject: str = "Your PLN digest",
    text: str = "Hello. . .\n.\nA line with a lone dot above.",
    **kw: Any,
) -> EmailMessage:
    return build_message(
        sender="PLN Digest <digest@school.org>",
        recipient=to,
        subject=subject,
        text=text,
        html="<p>Hello</p>",
        now=T0,
        **kw,
    )


def nothing() -> None:
    """An on_commit that records nothing."""


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERTS / "cert.pem", CERTS / "key.pem")
    return context


def client_tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CERTS / "cert.pem"))


def authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"digest", b"correct horse")
    return AuthResult(success=ok, handled=False)


def config(port: int, **changes: Any) -> EmailConfig:
    return dataclasses.replace(
        EmailConfig(
            smtp_host="127.0.0.1",
            smtp_port=port,
            security="none",
            from_address="PLN Digest <digest@school.org>",
        ),
        **changes,
    )


# --- the message ----------------------------------------------------------------


def test_message_is_text_and_html_alternatives_with_its_headers() -> None:
    built = message(
        unsubscribe_url="https://school.org/pln/unsubscribe?token=abc",
        unsubscribe_mailto="it@school.org",
    )
    parsed = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["To"].addresses[0].display_name == "Ana Díaz"  # RFC 2047 encoded and back
    assert parsed["Date"].datetime == T0
    assert parsed["List-Unsubscribe"] == (
        "<https://school.org/pln/unsubscribe?token=abc>, <mailto:it@school.org?subject=unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(b < 128 for b in built.as_bytes())  # no 8-bit data: no 8BITMIME needed


def test_without_an_https_link_there_is_no_one_click_header() -> None:
    built = message(unsubscribe_mailto="it@school.org")
    assert built["List-Unsubscribe"] == "<mailto:it@school.org?subject=unsubscribe>"
    assert "List-Unsubscribe-Post" not in built


@pytest.mark.parametrize("field", ["name", "subject"])
def test_line_breaks_in_a_name_or_subject_stay_in_their_header(field: str) -> None:
    evil = "Ana\r\nBcc: evil@x\r\n\r\nbody"
    built = (
        message(RecipientConfig(email="ana@school.org", name=evil))
        if field == "name"
        else message(subject=evil)
    )
    parsed = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert "Bcc" not in parsed
    assert "Bcc: evil@x" in str(parsed["To"] if field == "name" else parsed["Subject"])


@pytest.mark.parametrize("odd", ["\x00", "\x07", "\x1b", "\u2028", "\udc80"])
def test_control_characters_in_a_name_or_subject_never_reach_the_wire(odd: str) -> None:
    built = message(RecipientConfig(email="ana@school.org", name=f"Ana{odd}Díaz"), f"A{odd}B")
    head = built.as_bytes().partition(b"\r\n\r\n")[0]
    assert all(32 <= byte < 127 for byte in head.replace(b"\r\n", b""))
    parsed = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parsed["To"].addresses[0].display_name == "Ana Díaz"
    assert parsed["Subject"] == "A B"


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
NEAR_ADDRESSES = st.builds(
    "{}@{}".format,
    st.text(ATEXT + '.@"() ,;:<>[]\\ä\x00', min_size=1, max_size=70),
    st.text(string.ascii_letters + string.digits + "-._ü", min_size=1, max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(NEAR_ADDRESSES)
def test_every_address_pln_check_accepts_is_carried_by_the_headers_as_written(
    address: str,
) -> None:
    """`pln check` and the message use one rule: what it accepts goes out intact,
    what it refuses never reaches a message."""
    to = RecipientConfig(email=address, name="Ana")
    if address_problem(address) is not None:
        with pytest.raises(PermanentFailure, match="cannot be sent to: the address"):
            message(to)
        return
    raw = message(to).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == address
    assert not parsed["To"].defects and f"<{address}>".encode() in raw


# --- SMTP -------------------------------------------------------------------------


def test_starttls_with_login_sends_and_dot_lines_arrive_intact() -> None:
    script = Script()
    with smtp_server(
        script, tls_context=server_tls(), require_starttls=True, authenticator=authenticate
    ) as port:
        cfg = config(port, security="starttls", username="digest", password=PASSWORD)
        with SmtpMailer(cfg, tls=client_tls()) as mailer:
            mailer.send(message(), nothing)
    (received,) = script.to("ana@school.org")
    text = received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n").startswith("Hello. . .\n.\nA line with a lone dot above.")


def test_implicit_tls() -> None:
    script = Script()
    with smtp_server(script, ssl_context=server_tls()) as port:
        with SmtpMailer(config(port, security="ssl"), tls=client_tls()) as mailer:
            mailer.send(message(), nothing)
    assert len(script.to("ana@school.org")) == 1


def test_a_server_certificate_that_does_not_verify_is_refused() -> None:
    with smtp_server(Script(), tls_context=server_tls()) as port:
        with SmtpMailer(config(port, security="starttls")) as mailer:  # default trust store
            with pytest.raises(ServerUnavailable, match="certificate"):
                mailer.send(message(), nothing)


def test_a_refused_login_names_the_variable_and_never_the_password() -> None:
    wrong = Secret("PLN_SMTP_PASSWORD", "wrong-password-123")
    with smtp_server(Script(), tls_context=server_tls(), authenticator=authenticate) as port:
        cfg = config(port, security="starttls", username="digest", password=wrong)
        with SmtpMailer(cfg, tls=client_tls()) as mailer:
            with pytest.raises(ServerUnavailable, match="PLN_SMTP_PASSWORD") as info:
                mailer.send(message(), nothing)
    assert "wrong-password-123" not in str(info.value)


def test_one_connection_serves_a_batch_and_refusals_keep_it_usable() -> None:
    script = Script(rcpt={"ben@school.org": ["451 4.3.0 later"], "cy@school.org": ["550 no"]})
    people = [RecipientConfig(email=f"{n}@school.org") for n in ("ana", "ben", "cy", "di")]
    with smtp_server(script) as port:
        before = script.connections
        with SmtpMailer(config(port)) as mailer:
            results = []
            for person in people:
                try:
                    mailer.send(message(person), nothing)
                    results.append("ok")
                except (TemporaryFailure, PermanentFailure) as exc:
                    results.append(type(exc).__name__)
        assert script.connections - before == 1
    assert results == ["ok", "TemporaryFailure", "PermanentFailure", "ok"]


def test_a_drop_mid_message_is_temporary_and_the_next_message_reconnects() -> None:
    """The server hangs up before the end of the message (whether before or after
    the body reached it): the end-of-data mark cannot be written, so nothing was
    accepted. The commit waits for the hang-up, so the order is never left to chance."""
    script = Script(drop_mid_data={"ana@school.org": 1})
    with smtp_server(script) as port, SmtpMailer(config(port)) as mailer:
        before = script.connections
        with pytest.raises(TemporaryFailure, match="connection lost"):
            mailer.send(message(), lambda: assert_true(script.hung_up.wait(5)))
        mailer.send(message(RecipientConfig(email="ben@school.org")), nothing)
        assert script.connections - before == 2  # a new one for Ben
    assert script.to("ana@school.org") == [] and len(script.to("ben@school.org")) == 1


def assert_true(value: bool) -> None:
    assert value


def test_no_answer_after_the_whole_message_is_an_unknown_outcome() -> None:
    script = Script(drop_after_data={"ana@school.org": 1})
    committed: list[str] = []
    with smtp_server(script) as port, SmtpMailer(config(port)) as mailer:
        with pytest.raises(UnknownOutcome):
            mailer.send(message(), lambda: committed.append("ana"))
    assert committed == ["ana"] and len(script.to("ana@school.org")) == 1


def test_a_failing_commit_abandons_the_message() -> None:
    script = Script()

    def lost_claim() -> None:
        raise StorageError("claimed by another process")

    with smtp_server(script) as port, SmtpMailer(config(port)) as mailer:
        with pytest.raises(StorageError):
            mailer.send(message(), lost_claim)
        mailer.send(message(RecipientConfig(email="ben@school.org")), nothing)
    assert script.to("ana@school.org") == [] and len(script.to("ben@school.org")) == 1


def test_an_idle_connection_the_server_closed_is_reopened() -> None:
    script = Script()
    with smtp_server(script) as port, SmtpMailer(config(port)) as mailer:
        mailer.send(message(), nothing)
        assert mailer._smtp is not None and mailer._smtp.sock is not None
        mailer._smtp.sock.close()  # as if the server had timed the idle session out
        mailer.send(message(RecipientConfig(email="ben@school.org")), nothing)
    assert len(script.received) == 2


# --- files ------------------------------------------------------------------------


def test_file_backend_writes_eml_files_and_nothing_when_the_commit_fails(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    mailer = build_mailer(EmailConfig(backend="file", folder=str(folder)))
    assert isinstance(mailer, FileMailer)
    built = message()
    mailer.send(built, nothing)

    def refuse() -> None:
        raise StorageError("lost")

    with pytest.raises(StorageError):
        mailer.send(message(), refuse)
    (written,) = folder.iterdir()
    assert written.suffix == ".eml"
    assert (
        message_from_bytes(written.read_bytes(), policy=policy.default)["Message-ID"]
        == built["Message-ID"]
    )


def test_the_longest_unsubscribe_link_pln_check_allows_fits_in_a_header_line() -> None:
    longest = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"
    email = EmailConfig(
        public_url="https://" + "p" * (PUBLIC_URL_CHARS - len("https://")),
        unsubscribe_secret=Secret("PLN_UNSUBSCRIBE_SECRET", "0123456789abcdef-test"),
    )
    url = make_unsubscribe_url(email, longest)
    assert url is not None and len(email.public_url) == PUBLIC_URL_CHARS
    raw = message(RecipientConfig(email=longest), unsubscribe_url=url).as_bytes()
    assert f"List-Unsubscribe: <{url}>".encode() in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    with pytest.raises(PermanentFailure, match="shorten \\[email\\] public_url"):
        message(unsubscribe_url=url + "x" * 500)

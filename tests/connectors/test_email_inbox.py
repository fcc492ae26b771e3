"""The email_inbox connector: .eml parsing without a server, then against a
real dovecot on loopback (tests/imap_server.py; skipped when not installed)."""

from __future__ import annotations

import dataclasses
import email
import socket
import threading
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest
import requests

from aggregator.config.types import Config, FetchConfig
from aggregator.domain.errors import AuthError, FetchError
from aggregator.domain.post import Post
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.email_inbox import connector as email_inbox
from connectors.email_inbox import imap as email_imap
from connectors.email_inbox.connector import EmailInboxConnector, format_cursor, parse_cursor
from connectors.email_inbox.imap import encode_mailbox, is_loopback
from connectors.email_inbox.mime import UnreadableMessage
from connectors.email_inbox.post import message_to_post
from tests.conftest import missing_server
from tests.fakes import T0, FixedClock
from tests.imap_server import DOVECOT, OPENSSL, PASSWORD, USER, Dovecot

EMAIL = Path(__file__).parent.parent / "data" / "email"
ENV = "PLN_TEST_IMAP_PASSWORD"
FILES = [
    "substack_newsletter",
    "mailchimp_newsletter",
    "facebook_group_notification",
    "plain_text_only",
    "latin1_encoded",
    "hostile_html",
]


def eml(name: str) -> bytes:
    return (EMAIL / f"{name}.eml").read_bytes()


def parse(name: str, raw: bytes | None = None) -> Post:
    return message_to_post(raw if raw is not None else eml(name), "inbox", "7:42", T0)


def assert_safe(html: str) -> None:
    lowered = html.lower()
    for bad in (
        "<script",
        "onerror",
        "onload",
        "onclick",
        "onmouseover",
        "javascript:",
        "data:",
        "<iframe",
        "<form",
        "<input",
        "<object",
        "<style",
        "<svg",
        "<base",
        "<meta",
        "alert(",
    ):
        assert bad not in lowered, bad


# -- parsing .eml bytes, no server ----------------------------------------------------


def test_substack_newsletter_is_a_post_by_its_sender() -> None:
    post = parse("substack_newsletter")
    assert post.network == "email"
    assert post.external_id == "<20261127140305.3.5d1c0f0e7b2a4f11@mg1.substack.com>"
    assert post.author == "Cult of Retrieval (substack.com)"
    assert post.title == "Retrieval practice in science labs"
    assert post.published_at.isoformat() == "2026-11-27T14:03:05+00:00"
    # No "view in browser" link: the first link, the post's title, is the URL.
    assert post.url.startswith(
        "https://cultofretrieval.substack.com/p/retrieval-practice-in-science-labs?"
    )
    assert "https://www.retrievalpractice.org/why-it-works" in post.links
    assert "water cycle from memory" in post.text
    assert "Monday’s sketch" in post.text
    # The unsubscribe link carries the mailbox's token: never shown, never a link.
    assert "disable_email" not in post.html and not any("disable_email" in u for u in post.links)
    assert "Unsubscribe" in post.text
    # The 1x1 open tracker is gone; the real figure stays.
    assert "email.mg1.substack.com/o/" not in post.html
    assert "water-cycle-sketches.jpeg" in post.html
    # The hidden inbox preview line does not show up as text.
    assert post.text.startswith("Retrieval practice in science labs")


def test_mailchimp_newsletter_url_is_its_browser_version_and_trackers_go() -> None:
    post = parse("mailchimp_newsletter")
    archive = "https://us21.campaign-archive.com/?u=7f3c2a1b9d8e6f5a4b3c2d1e0&id=4d5e6f7a8b"
    assert post.url == archive
    assert post.title == "NGSS Notes: December phenomena 🌿"
    assert post.author == "NGSS Notes (ngssnotes.org)"
    assert "track/open.php" not in post.html
    assert not any("unsubscribe" in u or "/profile?" in u for u in post.links)
    assert "update your preferences" in post.text and "unsubscribe from this list" in post.text
    clicks = [u for u in post.links if "/track/click" in u]
    assert len(clicks) == 3  # the articles, even behind Mailchimp's redirect
    assert "Why did the wolves change the rivers?" in post.text
    assert "mcnPreviewText" not in post.html and "display:none" not in post.html


def test_facebook_group_notification_is_attributed_to_its_group() -> None:
    post = parse("facebook_group_notification")
    group_post = "https://www.facebook.com/groups/204581930017722/posts/1187654432109876/"
    assert post.author == "Science Teachers Network"
    assert post.author_url == "https://www.facebook.com/groups/204581930017722/"
    assert post.url == group_post
    assert post.external_id == group_post  # a second notification of it is the same post
    assert post.title == (
        "Does anyone have a density lab that works with 7th graders and no "
        "balances? Ours broke and the replacement order is stuck until January."
    )
    assert post.hashtags == ("facebook-group",)
    assert post.published_at.isoformat() == "2026-11-29T23:12:43+00:00"
    assert "https://sciteachblog.example.org/density-without-balances" in post.links
    assert "Maria Lopez" in post.text  # who posted is kept in the text
    assert "unsubscribe" not in post.text.lower() and "Meta Platforms" not in post.text
    assert "notif_id" not in post.url


def test_facebook_notification_without_a_text_part() -> None:
    message = email.message_from_bytes(eml("facebook_group_notification"), policy=default)
    html_only = next(p for p in message.walk() if p.get_content_type() == "text/html")
    for name, value in message.items():
        if name.lower() not in ("content-type", "mime-version"):
            html_only[name] = value
    post = parse("", html_only.as_bytes())
    assert post.author == "Science Teachers Network"
    assert post.url == "https://www.facebook.com/groups/204581930017722/posts/1187654432109876/"
    assert post.title is not None and post.title.startswith("Does anyone have a density lab")
    assert "Meta Platforms" not in post.text


def test_facebook_group_name_from_other_notification_shapes() -> None:
    raw = eml("facebook_group_notification").replace(
        b"Subject: New post in Science Teachers Network",
        b"Subject: Maria Lopez posted in Physics Teachers of Ohio",
    )
    assert parse("", raw).author == "Physics Teachers of Ohio"
    # Only the List-Id names the group.
    raw = eml("facebook_group_notification").replace(
        b"Subject: New post in Science Teachers Network", b"Subject: Your group has a new post"
    )
    raw = raw.replace(b"posted in Science Teachers Network", b"shared something")
    assert parse("", raw).author == "Science Teachers Network"


def test_facebook_lookalike_from_another_domain_is_a_plain_newsletter() -> None:
    raw = eml("facebook_group_notification").replace(
        b"notification@facebookmail.com", b"notification@facebookmail.com.phish.example"
    )
    post = parse("", raw)
    assert post.hashtags == ()
    assert post.author == "Facebook (facebookmail.com.phish.example)"


def test_plain_text_message_is_escaped_and_linkified() -> None:
    post = parse("plain_text_only")
    assert post.author == "Rachel Okafor (district12.k12.example.us)"
    assert post.published_at.isoformat() == "2026-11-26T13:15:02+00:00"
    assert "that worked &amp; one that didn't" in post.html
    # The full stop after a URL and the parenthesis around one are prose.
    assert post.links == (
        "https://docs.example.org/d/1aB2cD3eF4/edit?usp=sharing",
        "https://www.nextgenstorylines.org/how-are-storylines-designed",
    )
    assert post.url == post.links[0]
    assert post.html.count("<p>") == 5


def test_non_utf8_message_and_encoded_word_subject_are_decoded() -> None:
    post = parse("latin1_encoded")
    assert post.title == "Réunion des professeurs de sciences à Lyon – décembre"
    assert post.author == "André Dupré (profs-sciences.example.fr)"  # never the address
    # Labelled ISO-8859-1, written by Outlook in cp1252: 0x92 is an apostrophe.
    assert "à l’école Jean-Macé" in post.text
    assert "« démarche d’investigation »" in post.text
    assert post.language == "fr"
    assert post.published_at.isoformat() == "2026-11-25T17:40:00+00:00"


def test_hostile_html_is_sanitised_and_names_are_plain_text() -> None:
    post = parse("hostile_html")
    assert_safe(post.html)
    # A subject is plain text: kept as written, escaped wherever it is shown.
    assert post.title == "<img src=x onerror=alert(document.cookie)> Free lab kits for teachers!"
    assert post.author == "Free EdTech (free-edtech-deals.example.net)"
    assert post.links == ("https://free-edtech-deals.example.net/kits",)
    assert "kit.jpg" in post.html
    assert "evil.example.net" not in post.html


def test_message_without_message_id_or_date() -> None:
    raw = eml("plain_text_only")
    raw = raw.replace(b"Message-ID: <CAF3k9Lq0xW2zJ@mail.district12.k12.example.us>\n", b"")
    raw = raw.replace(b"Date: Thu, 26 Nov 2026 08:15:02 -0500\n", b"")
    post = parse("", raw)
    assert post.external_id == "7:42"
    assert post.published_at == T0  # first seen now


def test_future_date_is_clamped_to_now() -> None:
    raw = eml("plain_text_only")
    raw = raw.replace(b"Thu, 26 Nov 2026 08:15:02 -0500", b"Fri, 1 Jan 2027 00:00:00 +0000")
    assert parse("", raw).published_at == T0


def test_bytes_that_are_not_an_email_are_refused() -> None:
    with pytest.raises(UnreadableMessage):
        parse("", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary junk, not a message")


def test_same_message_same_post() -> None:
    assert parse("mailchimp_newsletter") == parse("mailchimp_newsletter")
    changed = eml("mailchimp_newsletter").replace(b"phenomena</h1>", b"phenomena!</h1>")
    assert parse("", changed).content_hash != parse("mailchimp_newsletter").content_hash


def test_cursor_round_trip() -> None:
    assert parse_cursor(format_cursor(1795990943, 17)) == (1795990943, 17)
    assert parse_cursor(None) is None
    assert parse_cursor("since_id:5") is None


def test_mailbox_names_in_modified_utf7() -> None:
    assert encode_mailbox("INBOX") == "INBOX"
    assert encode_mailbox("Boîte de réception") == "Bo&AO4-te de r&AOk-ception"
    assert encode_mailbox("R&D") == "R&-D"


def test_only_loopback_hosts_may_get_a_password_in_clear() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("imap.school.org") and not is_loopback("10.0.0.5")
    assert not is_loopback("localhost.evil.example")


# -- against dovecot ------------------------------------------------------------------

needs_dovecot = pytest.mark.needs_server(
    DOVECOT is not None and OPENSSL is not None,
    "dovecot or openssl not installed (apt-get install -y dovecot-imapd openssl): "
    "IMAP server tests skipped",
)


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    if DOVECOT is None or OPENSSL is None:
        missing_server("dovecot or openssl not installed")
    dovecot = Dovecot.start(tls=True)
    yield dovecot
    dovecot.stop()


def make_connector(
    server: Dovecot | None,
    *,
    password: str = PASSWORD,
    timeout_s: float = 5,
    max_bytes: int = 1_000_000,
    trust: bool = True,
) -> EmailInboxConnector:
    config = Config(
        secrets=(Secret(ENV, password),),
        fetch=FetchConfig(timeout_seconds=timeout_s, max_body_bytes=max_bytes),
    )
    ctx = ConnectorContext(session=requests.Session(), config=config, clock=FixedClock())
    context = server.trusting_context() if server is not None and trust else None
    return EmailInboxConnector(ctx, ssl_context=context)


def make_source(
    port: int, mailbox: str = "INBOX", *, mark_read: bool = False, user: str = USER
) -> SourceConfig:
    options = {
        "host": "127.0.0.1",
        "port": str(port),
        "username": user,
        "password_env": ENV,
        "mailbox": mailbox,
        "mark_read": "true" if mark_read else "false",
    }
    return SourceConfig(key="school-inbox", kind="email_inbox", options=tuple(options.items()))


@pytest.fixture
def filled(server: Dovecot) -> tuple[Dovecot, str]:
    """A mailbox holding the six sample messages, unread."""
    mailbox = server.new_mailbox()
    server.append(mailbox, *(eml(name) for name in FILES))
    return server, mailbox


@needs_dovecot
def test_first_fetch_reads_every_message_and_changes_nothing(filled: tuple[Dovecot, str]) -> None:
    server, mailbox = filled
    before = server.flags(mailbox)
    result = make_connector(server).fetch(make_source(server.port, mailbox), FetchState())
    assert len(result.posts) == 6 and result.problem is None
    assert {p.author for p in result.posts} >= {
        "Science Teachers Network",
        "NGSS Notes (ngssnotes.org)",
    }
    assert result.cursor == f"imap:{server.uidvalidity(mailbox)}:6"
    assert server.flags(mailbox) == before and "\\Seen" not in "".join(before.values())
    assert "Login: user=<teacher>" in server.log() and "TLS" in server.log()
    # No secret in any post, whatever the message said.
    assert not any(
        PASSWORD in str(value) for post in result.posts for value in dataclasses.astuple(post)
    )


@needs_dovecot
def test_refetch_reads_only_new_messages(filled: tuple[Dovecot, str]) -> None:
    server, mailbox = filled
    connector, source = make_connector(server), make_source(server.port, mailbox)
    first = connector.fetch(source, FetchState())
    again = connector.fetch(source, FetchState(cursor=first.cursor))
    assert again.posts == () and again.cursor == first.cursor and again.problem is None
    server.append(mailbox, eml("plain_text_only").replace(b"CAF3k9Lq0xW2zJ", b"NEW0000001"))
    third = connector.fetch(source, FetchState(cursor=again.cursor))
    assert [p.external_id for p in third.posts] == ["<NEW0000001@mail.district12.k12.example.us>"]
    assert third.cursor == f"imap:{server.uidvalidity(mailbox)}:7"
    assert "\\Seen" not in "".join(server.flags(mailbox).values())


@needs_dovecot
def test_mark_read_sets_seen_on_what_was_read(filled: tuple[Dovecot, str]) -> None:
    server, mailbox = filled
    source = make_source(server.port, mailbox, mark_read=True)
    make_connector(server).fetch(source, FetchState(cursor=f"imap:{server.uidvalidity(mailbox)}:4"))
    flags = server.flags(mailbox)
    assert ["\\Seen" in flags[uid] for uid in range(1, 7)] == [False] * 4 + [True] * 2


@needs_dovecot
def test_recreated_mailbox_is_read_again_without_duplicates(filled: tuple[Dovecot, str]) -> None:
    server, mailbox = filled
    connector, source = make_connector(server), make_source(server.port, mailbox)
    first = connector.fetch(source, FetchState())
    old_validity = server.uidvalidity(mailbox)
    server.recreate(mailbox)
    server.append(mailbox, *(eml(name) for name in reversed(FILES)))
    assert server.uidvalidity(mailbox) != old_validity
    second = connector.fetch(source, FetchState(cursor=first.cursor))
    # UIDs 1-6 again, but other messages: every one is read, and each keeps
    # its id (Message-ID), so ingest updates instead of inserting twice.
    assert sorted(p.external_id for p in second.posts) == sorted(p.external_id for p in first.posts)
    assert second.cursor == f"imap:{server.uidvalidity(mailbox)}:6"


@needs_dovecot
def test_cap_per_run_reads_oldest_first_then_the_rest(
    filled: tuple[Dovecot, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, mailbox = filled
    monkeypatch.setattr(email_inbox, "MAX_MESSAGES_PER_RUN", 4)
    connector, source = make_connector(server), make_source(server.port, mailbox)
    validity = server.uidvalidity(mailbox)
    first = connector.fetch(source, FetchState(cursor=f"imap:{validity}:0"))
    assert len(first.posts) == 4 and first.cursor == f"imap:{validity}:4"
    rest = connector.fetch(source, FetchState(cursor=first.cursor))
    assert len(rest.posts) == 2 and rest.cursor == f"imap:{validity}:6"
    # Without a cursor (a new source), the newest messages come first.
    fresh = connector.fetch(source, FetchState())
    assert fresh.posts[-1].external_id == "<hostile-0001@free-edtech-deals.example.net>"
    assert len(fresh.posts) == 4 and fresh.cursor == f"imap:{validity}:6"


@needs_dovecot
def test_unreadable_and_oversized_messages_are_skipped_others_kept(server: Dovecot) -> None:
    mailbox = server.new_mailbox()
    big = eml("plain_text_only").replace(b"Hi all,", b"Hi all, " + b"x" * 30_000)
    server.append(
        mailbox,
        eml("substack_newsletter"),
        b"\x89PNG\r\n\x1a\nbinary junk\r\n",
        big,
        eml("latin1_encoded"),
    )
    result = make_connector(server, max_bytes=20_000).fetch(
        make_source(server.port, mailbox), FetchState()
    )
    assert [p.title for p in result.posts] == [
        "Retrieval practice in science labs",
        "Réunion des professeurs de sciences à Lyon – décembre",
    ]
    assert result.problem is not None
    assert result.problem.startswith("skipped 2 of 4 messages: ")
    assert "UID 2 cannot be read as an email" in result.problem
    assert "UID 3 is larger than fetch.max_body_bytes (20000 bytes)" in result.problem
    assert result.cursor is not None and result.cursor.endswith(":4")  # not read again


@needs_dovecot
def test_bad_password_is_an_auth_error_without_the_password(server: Dovecot) -> None:
    wrong = "Wr0ng-Pa55word-9731"
    connector, source = make_connector(server, password=wrong), make_source(server.port)
    with pytest.raises(AuthError) as caught:
        connector.fetch(source, FetchState())
    message = caught.value.message
    assert message.startswith(f"IMAP login refused for teacher@127.0.0.1: check {ENV}")
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)
    assert connector.check(source) == [message]


@needs_dovecot
def test_check_logs_in_and_examines(server: Dovecot) -> None:
    connector = make_connector(server)
    assert connector.check(make_source(server.port)) == []
    problems = connector.check(make_source(server.port, "No Such Box"))
    assert len(problems) == 1
    assert problems[0].startswith("cannot open mailbox 'No Such Box' on 127.0.0.1")
    assert problems[0].endswith("check the mailbox option")


@needs_dovecot
def test_implicit_tls_port(filled: tuple[Dovecot, str], monkeypatch: pytest.MonkeyPatch) -> None:
    server, mailbox = filled
    monkeypatch.setattr(email_imap, "IMPLICIT_TLS_PORTS", frozenset({server.tls_port}))
    result = make_connector(server).fetch(make_source(server.tls_port, mailbox), FetchState())
    assert len(result.posts) == 6


@needs_dovecot
def test_untrusted_certificate_is_a_fetch_error(server: Dovecot) -> None:
    connector = make_connector(server, trust=False)  # the system's CAs do not know it
    with pytest.raises(FetchError) as caught:
        connector.fetch(make_source(server.port), FetchState())
    assert caught.value.message.startswith("TLS error: the certificate of 127.0.0.1:")
    assert PASSWORD not in str(caught.value)


@needs_dovecot
def test_no_starttls_plaintext_only_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Dovecot.start(tls=False)
    try:
        mailbox = plain.new_mailbox()
        plain.append(mailbox, eml("plain_text_only"))
        source = make_source(plain.port, mailbox)
        assert len(make_connector(None).fetch(source, FetchState()).posts) == 1
        # The same server seen as a remote host gets no password.
        monkeypatch.setattr(email_imap, "is_loopback", lambda host: False)
        logins = plain.log().count("Login: ")
        with pytest.raises(FetchError, match=r"offers no TLS .*refusing to send the password"):
            make_connector(None).fetch(source, FetchState())
        assert plain.log().count("Login: ") == logins
    finally:
        plain.stop()


def test_refused_connection_is_a_fetch_error() -> None:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    with pytest.raises(FetchError, match="refused"):
        make_connector(None).fetch(make_source(number), FetchState())


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        with pytest.raises(FetchError, match=r"timed out after 0\.3 s"):
            make_connector(None, timeout_s=0.3).fetch(
                make_source(listener.getsockname()[1]), FetchState()
            )
        thread.join()
        for conn in accepted:
            conn.close()


def test_missing_password_is_an_auth_error() -> None:
    connector = make_connector(None)
    source = dataclasses.replace(
        make_source(993), options=(("host", "imap.school.org"), ("password_env", "PLN_UNSET"))
    )
    with pytest.raises(AuthError, match="PLN_UNSET"):
        connector.fetch(source, FetchState())

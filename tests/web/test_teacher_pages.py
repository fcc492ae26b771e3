"""Teachers' pages at the HTTP level: one-click unsubscribe (RFC 8058), the
digest in a browser and past digests, managing one's digest, and "more /
less like this"; every bad link gets a clear page, a 4xx, and changes nothing."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from aggregator.app.config import load_config
from aggregator.app.links import FeedbackTarget, LinkSigner, Purpose
from aggregator.app.send import send_due_digests
from aggregator.app.unsubscribe import make_token, unsubscribe_link
from aggregator.app.wiring import build_app, build_mailer
from aggregator.domain.post import Post
from aggregator.domain.source import FetchResult
from tests.fakes import FixedClock, make_post
from tests.web.conftest import SECRET, csrf_token_from, write_web_config

ANA = "ana@school.org"
BEN = "ben@school.org"
PUBLIC = "https://digest.school.org"
# 06:31 in Madrid on Monday 30 November: Ana's digest is due.
SENT_AT = datetime(2026, 11, 30, 5, 31, tzinfo=UTC)
DAY = SENT_AT.date()
EMAIL = """
[email]
backend = "file"
folder = "outbox"
from = "PLN Digest <digest@school.org>"
admin = "it@school.org"
unsubscribe_secret_env = "PLN_UNSUBSCRIBE_SECRET"
"""
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def posts() -> tuple[Post, ...]:
    return (
        make_post("edu-blog", 1, at=SENT_AT - timedelta(hours=3), title="Exit tickets that work"),
        make_post("edu-blog", 2, at=SENT_AT - timedelta(hours=2), title="Retrieval practice"),
    )


@pytest.fixture
def web_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The web tests' configuration with [web] public_url and a file mailer,
    after Ana's digest of DAY went out."""
    monkeypatch.setenv("PLN_WEB_SECRET", SECRET)
    monkeypatch.setenv("PLN_UNSUBSCRIBE_SECRET", "an-older-unsubscribe-secret-0123456789")
    path = write_web_config(tmp_path, EMAIL, f'public_url = "{PUBLIC}"')
    clock = FixedClock(SENT_AT)
    with build_app(load_config(path), clock, connectors={}) as app:
        app.repo.save_fetch("edu-blog", FetchResult(posts()), SENT_AT, SENT_AT)
        outcomes = send_due_digests(app, build_mailer(app.config.email))
        assert [(o.email, o.status) for o in outcomes] == [(ANA, "sent")]
    return path


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(SECRET)


def db_dump(config: Path) -> list[str]:
    """Every row of the database, as SQL: what "changes nothing" compares."""
    with sqlite3.connect(config.parent / "pln.db") as conn:
        return list(conn.iterdump())


def unsubscribed(config: Path) -> set[str]:
    with build_app(load_config(config), connectors={}) as app:
        return app.repo.unsubscribed()


def sent_message(config: Path):  # type: ignore[no-untyped-def]
    (eml,) = (config.parent / "outbox").glob("*.eml")
    return message_from_bytes(eml.read_bytes(), policy=policy.default)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- unsubscribe ---------------------------------------------------------------


def test_the_list_unsubscribe_link_unsubscribes_at_once_with_one_click(
    client: FlaskClient, web_config: Path
) -> None:
    header = str(sent_message(web_config)["List-Unsubscribe"])
    url = re.search(r"<(https://[^>]+)>", header).group(1)  # type: ignore[union-attr]
    assert url.startswith(f"{PUBLIC}/u/")
    response = client.post(path_of(url), data=ONE_CLICK, headers=FORM)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert unsubscribed(web_config) == {ANA}


def test_one_click_also_comes_as_multipart_form_data(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    token = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    response = client.post(
        f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert unsubscribed(web_config) == {ANA}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param("List-Unsubscribe=Yes", id="other-value"),
        pytest.param(ONE_CLICK + "&also=1", id="extra-field"),
        pytest.param(ONE_CLICK + "&" + ONE_CLICK, id="twice"),
        pytest.param("list-unsubscribe=one-click", id="other-case"),
    ],
)
def test_a_post_that_is_not_exactly_one_click_changes_nothing(
    client: FlaskClient, web_config: Path, signer: LinkSigner, body: str
) -> None:
    before = db_dump(web_config)
    token = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    response = client.post(f"/u/{token}", data=body, headers=FORM)
    assert response.status_code == 400
    assert "One-Click" in response.get_data(as_text=True)
    assert db_dump(web_config) == before


def test_a_json_post_is_no_one_click(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    token = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    response = client.post(f"/u/{token}", json={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400 and unsubscribed(web_config) == set()


def test_the_unsubscribe_page_asks_first_and_its_button_unsubscribes(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    token = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and unsubscribed(web_config) == set()
    html = page.get_data(as_text=True)
    assert ANA in html and '<button type="submit">Unsubscribe</button>' in html
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', html))
    assert client.post(action, data=fields).status_code == 200
    assert unsubscribed(web_config) == {ANA}
    assert "already unsubscribed" in client.get(f"/u/{token}").get_data(as_text=True)


def test_links_of_digests_sent_before_the_web_pages_still_unsubscribe(
    client: FlaskClient, web_config: Path
) -> None:
    token = make_token(load_config(web_config).email, ANA)
    assert client.get(f"/unsubscribe?token={token}").status_code == 200
    assert unsubscribed(web_config) == set()
    response = client.post(f"/unsubscribe?token={token}", data=ONE_CLICK, headers=FORM)
    assert response.status_code == 200 and unsubscribed(web_config) == {ANA}


def test_pln_unsubscribe_takes_a_link_of_the_web_pages_too(web_config: Path) -> None:
    header = str(sent_message(web_config)["List-Unsubscribe"])
    url = re.search(r"<(https://[^>]+)>", header).group(1)  # type: ignore[union-attr]
    with build_app(load_config(web_config), connectors={}) as app:
        assert unsubscribe_link(app, url) == (ANA, True)
        assert unsubscribe_link(app, url) == (ANA, False)


# -- bad links -----------------------------------------------------------------


def _all_links(signer: LinkSigner, email: str) -> list[str]:
    feedback = signer.feedback_token(FeedbackTarget(email, "edu-blog", "edu-blog-1"))
    return [
        f"/u/{signer.recipient_token(Purpose.UNSUBSCRIBE, email)}",
        f"/d/{signer.digest_token(email, DAY)}",
        f"/d/{signer.recipient_token(Purpose.ARCHIVE, email)}",
        f"/m/{signer.recipient_token(Purpose.MANAGE, email)}",
        f"/f/more/{feedback}",
        f"/f/less/{feedback}",
    ]


def _tampered(path: str) -> str:
    head, token = path.rsplit("/", 1)
    return f"{head}/{token[:-2]}{'AB' if not token.endswith('AB') else 'CD'}"


def _try_every_way(client: FlaskClient, path: str, csrf: str) -> list[tuple[int, str]]:
    """GET the link, and POST to it as its page's button would (one-click
    body, or the form's CSRF token): (status, page) of each."""
    answers = [client.get(path)]
    if path.startswith(("/u/", "/unsubscribe")):
        answers.append(client.post(path, data=ONE_CLICK, headers=FORM))
    elif not path.startswith("/d/"):
        answers.append(client.post(path, data={"csrf_token": csrf, "send_at": "09:00"}))
    return [(r.status_code, r.get_data(as_text=True)) for r in answers]


def _csrf(client: FlaskClient, signer: LinkSigner) -> str:
    return csrf_token_from(client.get(f"/m/{signer.recipient_token(Purpose.MANAGE, ANA)}"))


def test_altered_or_foreign_links_get_400_and_change_nothing(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    csrf = _csrf(client, signer)
    before = db_dump(web_config)
    foreign = LinkSigner("another-service-secret-0123456789abcdef")
    manage = signer.recipient_token(Purpose.MANAGE, ANA)
    bad = [
        *(_tampered(p) for p in _all_links(signer, ANA)),
        *_all_links(foreign, ANA),
        f"/u/{manage}",  # a token made for another purpose
        f"/f/more/{manage}",
        "/unsubscribe?token=bm90LWEtdG9rZW4.AAAA",
    ]
    for path in bad:
        for status, html in _try_every_way(client, path, csrf):
            assert status == 400, (path, status)
            assert "This link does not work" in html
    assert db_dump(web_config) == before


def test_a_recipient_removed_from_the_config_gets_a_clear_page(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    csrf = _csrf(client, signer)
    before = db_dump(web_config)
    for path in _all_links(signer, "gone@school.org"):
        for status, html in _try_every_way(client, path, csrf):
            assert status == 404, path
            assert "no longer receives PLN Digest" in html
    assert db_dump(web_config) == before


def test_an_expired_manage_or_feedback_link_says_to_use_the_latest_digest(
    client: FlaskClient, web_config: Path
) -> None:
    old = LinkSigner(SECRET, FixedClock(datetime.now(UTC) - timedelta(days=400)))
    for path in (
        f"/m/{old.recipient_token(Purpose.MANAGE, ANA)}",
        f"/f/less/{old.feedback_token(FeedbackTarget(ANA, 'edu-blog', 'edu-blog-1'))}",
    ):
        response = client.get(path)
        assert response.status_code == 410
        assert "latest digest" in response.get_data(as_text=True)


# -- the digest in a browser -------------------------------------------------------


def test_view_in_browser_shows_the_digest_exactly_as_sent(
    client: FlaskClient, web_config: Path
) -> None:
    html_part = sent_message(web_config).get_body(("html",)).get_content()  # type: ignore[union-attr]
    url = re.search(r'href="(https://digest\.school\.org/d/[^"]+)"', html_part).group(1)  # type: ignore[union-attr]
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == html_part.replace("\r\n", "\n").rstrip("\n")
    policy_header = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy_header and "script-src" not in policy_header


def test_past_digests_are_listed_and_an_unsent_day_is_not_found(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    listing = client.get(f"/d/{signer.recipient_token(Purpose.ARCHIVE, ANA)}")
    assert listing.status_code == 200
    links = re.findall(r'<a href="(/d/[^"]+)">([^<]+)</a>', listing.get_data(as_text=True))
    assert (len(links) == 1 and "Exit tickets" in links[0][1]) or "Retrieval" in links[0][1]
    assert client.get(links[0][0]).status_code == 200
    missing = client.get(f"/d/{signer.digest_token(ANA, DAY - timedelta(days=1))}")
    assert missing.status_code == 404 and "no longer kept" in missing.get_data(as_text=True)
    # Ben was sent nothing: his list is empty, not someone else's.
    ben = client.get(f"/d/{signer.recipient_token(Purpose.ARCHIVE, BEN)}")
    assert "None yet" in ben.get_data(as_text=True)


# -- manage my digest ---------------------------------------------------------------


def _manage_form(client: FlaskClient, path: str, **changes: object) -> dict[str, object]:
    page = client.get(path)
    html = page.get_data(as_text=True)
    form: dict[str, object] = {
        "csrf_token": csrf_token_from(page),
        "send_at": re.search(r'id="send_at"[^>]*value="([^"]*)"', html).group(1),  # type: ignore[union-attr]
        "days": re.findall(r'name="days" value="(\w+)" checked', html),
        "reading_minutes": re.search(r'id="reading_minutes"[^>]*value="(\d+)"', html).group(1),  # type: ignore[union-attr]
        "timezone": re.search(r"<option selected>([^<]+)</option>", html).group(1),  # type: ignore[union-attr]
        "mute": "",
        "boost": "",
        "paused_until": "",
    }
    form.update(changes)
    return form


def test_the_manage_page_shows_the_entry_and_saves_changes(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    path = f"/m/{signer.recipient_token(Purpose.MANAGE, ANA)}"
    form = _manage_form(client, path)
    assert form["send_at"] == "06:30" and form["timezone"] == "Europe/Madrid"
    assert len(form["days"]) == 7  # type: ignore[arg-type]
    form.update(send_at="07:15", days=["mon", "tue"], mute="webinar\nsale", paused_until="")
    response = client.post(path, data=form)
    assert response.status_code == 303
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved." in again and 'value="07:15"' in again and "webinar\nsale" in again
    with build_app(load_config(web_config), connectors={}) as app:
        saved = app.repo.preferences(ANA)
    assert (saved.send_at, saved.days, saved.mute) == ("07:15", ("mon", "tue"), ("webinar", "sale"))


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        pytest.param({"paused_until": "2020-01-01"}, "is in the past", id="past-pause"),
        pytest.param({"mute": "w" * 10_000}, "100 characters", id="huge-mute"),
        pytest.param({"days": []}, "at least one day", id="no-day"),
        pytest.param({"timezone": "Nowhere/Atlantis"}, "time zone", id="bad-zone"),
    ],
)
def test_a_refused_manage_form_says_why_and_saves_nothing(
    client: FlaskClient, web_config: Path, signer: LinkSigner, changes: dict[str, object], says: str
) -> None:
    path = f"/m/{signer.recipient_token(Purpose.MANAGE, ANA)}"
    form = _manage_form(client, path, **changes)
    before = db_dump(web_config)
    response = client.post(path, data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert says in html and "Nothing was saved" in html
    assert db_dump(web_config) == before


def test_a_manage_post_without_its_csrf_token_is_refused(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    path = f"/m/{signer.recipient_token(Purpose.MANAGE, ANA)}"
    form = _manage_form(client, path, send_at="09:00")
    before = db_dump(web_config)
    del form["csrf_token"]
    assert client.post(path, data=form).status_code == 400
    assert db_dump(web_config) == before


# -- more / less like this -----------------------------------------------------------


def test_a_feedback_link_shows_one_button_and_only_its_post_records(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    token = signer.feedback_token(FeedbackTarget(ANA, "edu-blog", "edu-blog-1"))
    before = db_dump(web_config)
    page = client.get(f"/f/less/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Exit tickets that work" in html
    assert html.count("<button") == 1 and "Show me less like this" in html
    assert db_dump(web_config) == before
    assert client.post(f"/f/less/{token}").status_code == 400  # no CSRF token: nothing
    assert db_dump(web_config) == before
    done = client.post(f"/f/less/{token}", data={"csrf_token": csrf_token_from(page)})
    assert done.status_code == 200 and "less" in done.get_data(as_text=True)
    with build_app(load_config(web_config), connectors={}) as app:
        kinds = {(lean.kind.value, lean.direction) for lean in app.repo.leanings(ANA).items}
    assert kinds == {("source", -1), ("author", -1)}
    assert client.get(f"/f/sideways/{token}").status_code == 404


def test_feedback_is_listed_on_the_manage_page_and_undone_there(
    client: FlaskClient, web_config: Path, signer: LinkSigner
) -> None:
    token = signer.feedback_token(FeedbackTarget(ANA, "edu-blog", "edu-blog-1"))
    page = client.get(f"/f/more/{token}")
    client.post(f"/f/more/{token}", data={"csrf_token": csrf_token_from(page)})
    manage = f"/m/{signer.recipient_token(Purpose.MANAGE, ANA)}"
    html = client.get(manage).get_data(as_text=True)
    assert "source: edu-blog" in html
    csrf = csrf_token_from(client.get(manage))
    undone = client.post(
        f"{manage}/undo", data={"csrf_token": csrf, "kind": "source", "value": "edu-blog"}
    )
    assert undone.status_code == 303
    assert "source: edu-blog" not in client.get(manage).get_data(as_text=True)


# -- what a mail scanner does ------------------------------------------------------


def test_opening_every_link_of_a_sent_digest_changes_nothing(
    client: FlaskClient, web_config: Path
) -> None:
    message = sent_message(web_config)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    ours = set(re.findall(r'https://digest\.school\.org/[^\s"<>]+', text + html)) | set(
        re.findall(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    )
    kinds = {urlsplit(url).path.split("/")[1] for url in ours}
    assert kinds == {"u", "d", "m", "f"}
    before = db_dump(web_config)
    for url in sorted(ours):
        for method in (client.get, client.head):
            assert method(path_of(url)).status_code == 200, url
    assert db_dump(web_config) == before

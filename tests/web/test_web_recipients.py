"""The recipients pages and the preview, request by request: edits are config
edits, forms carry CSRF tokens, and whatever came from a file or a feed is escaped."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from aggregator.app.config import load_config
from aggregator.app.send import LEASE
from aggregator.app.unsubscribe import unsubscribe_address
from aggregator.app.wiring import build_app
from aggregator.domain.preferences import Preferences
from aggregator.domain.source import FetchResult
from tests.fakes import make_post

Token = Callable[[Any], str]


def form_of(client: FlaskClient, url: str, token_of: Token) -> dict[str, str]:
    """The hidden fields of the page's form: its CSRF token and the file's fingerprint."""
    page = client.get(url)
    body = page.get_data(as_text=True)
    fingerprint = body.split('name="fingerprint" value="')[1].split('"')[0]
    return {"csrf_token": token_of(page), "fingerprint": fingerprint}


def test_the_list_shows_each_recipient_with_follows_and_next_send(
    admin_client: FlaskClient,
) -> None:
    body = admin_client.get("/admin/recipients/").get_data(as_text=True)
    assert body.count("<h1>") == 1
    assert "ana@school.org" in body and "edu-blog, maths" in body
    assert "none yet" in body  # no delivery recorded
    assert "Europe/Madrid" in body
    assert 'aria-current="page">Recipients</a>' in body


def test_the_list_shows_the_latest_delivery(web_config: Path, admin_client: FlaskClient) -> None:
    with build_app(load_config(web_config), connectors={}) as app:
        claim = app.repo.claim_delivery("ben@school.org", date(2026, 11, 30), app.clock(), LEASE)
        assert claim is not None
        app.repo.mark_failed(claim, "refused (550)")
    body = admin_client.get("/admin/recipients/").get_data(as_text=True)
    assert '<span class="state-failed">failed</span> 2026-11-30' in body


def test_the_list_shows_what_teachers_chose_themselves(
    web_config: Path, admin_client: FlaskClient
) -> None:
    with build_app(load_config(web_config), connectors={}) as app:
        now = app.clock()
        pause = (now + timedelta(days=20)).date()
        app.repo.save_preferences(
            "ana@school.org",
            Preferences(send_at="07:15", paused_until=pause, mute=("webinar",)),
            now,
        )
        assert unsubscribe_address(app, "ben@school.org")
    body = admin_client.get("/admin/recipients/").get_data(as_text=True)
    ana = body.split("ana@school.org")[1].split("</tr>")[0]
    ben = body.split("ben@school.org")[1].split("</tr>")[0]
    assert f"paused until {pause.isoformat()}; own send time; mutes webinar" in ana
    assert "07:15 Europe/Madrid" in ana  # the send time digests really go out at
    # The next digest is the first on the day the pause ends, at her own time.
    assert f"{pause:%a %Y-%m-%d} 07:15" in ana
    assert "unsubscribed" in ben and "none planned" in ben


def test_add_a_recipient_writes_config_toml_keeping_it(
    web_config: Path, admin_client: FlaskClient, csrf_token_of: Token
) -> None:
    before = web_config.read_text()
    data = form_of(admin_client, "/admin/recipients/new", csrf_token_of)
    data |= {"email": "cy@school.org", "name": "Cy", "timezone": "Asia/Tokyo"}
    data |= {"send_at": "07:15", "reading_minutes": "8", "follow": ["maths"], "days": ["mon"]}
    response = admin_client.post("/admin/recipients/new", data=data)
    assert response.status_code == 302
    text = web_config.read_text()
    assert text.startswith(before)
    cy = load_config(web_config).recipient("cy@school.org")
    assert cy is not None
    assert (cy.timezone, cy.send_at, cy.reading_minutes, cy.follow, cy.days) == (
        "Asia/Tokyo",
        "07:15",
        8,
        ("maths",),
        ("mon",),
    )
    assert "Saved cy@school.org." in admin_client.get("/admin/recipients/").get_data(as_text=True)


def test_a_rejected_edit_changes_nothing_and_says_why_by_the_field(
    web_config: Path, admin_client: FlaskClient, csrf_token_of: Token
) -> None:
    before = web_config.read_text()
    data = form_of(admin_client, "/admin/recipients/edit?email=ana@school.org", csrf_token_of)
    data |= {"email": "ana@school.org", "timezone": "Mars/Olympus", "send_at": "06:30"}
    response = admin_client.post("/admin/recipients/edit", data=data)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert '<p class="error" id="timezone-error">unknown time zone' in body
    assert 'aria-describedby="timezone-error timezone-hint" aria-invalid="true"' in body
    assert web_config.read_text() == before


def test_edit_and_remove(web_config: Path, admin_client: FlaskClient, csrf_token_of: Token) -> None:
    data = form_of(admin_client, "/admin/recipients/edit?email=ben@school.org", csrf_token_of)
    edit = data | {"email": "ben@school.org", "name": "Ben B", "follow": ["edu-blog"]}
    assert admin_client.post("/admin/recipients/edit", data=edit).status_code == 302
    ben = load_config(web_config).recipient("ben@school.org")
    assert ben is not None and (ben.name, ben.follow) == ("Ben B", ("edu-blog",))
    # The form of before the edit is stale now: refused, nothing changed.
    stale = admin_client.post("/admin/recipients/remove", data=data | {"email": "ben@school.org"})
    assert stale.status_code == 302
    assert "changed by someone else" in admin_client.get("/admin/recipients/").get_data(
        as_text=True
    )
    assert load_config(web_config).recipient("ben@school.org") is not None
    fresh = form_of(admin_client, "/admin/recipients/edit?email=ben@school.org", csrf_token_of)
    admin_client.post("/admin/recipients/remove", data=fresh | {"email": "ben@school.org"})
    assert load_config(web_config).recipient("ben@school.org") is None


def test_csv_import_lists_the_bad_line_and_export_gives_a_roster(
    web_config: Path, admin_client: FlaskClient, csrf_token_of: Token
) -> None:
    data: dict[str, Any] = form_of(admin_client, "/admin/recipients/", csrf_token_of)
    roster = b"email,name,follows\ncy@school.org,Cy,maths\ndee@school.org,Dee,physics\n"
    data["roster"] = (io.BytesIO(roster), "roster.csv")
    response = admin_client.post("/admin/recipients/import", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "roster.csv: 1 added, 0 updated, 0 unchanged, 1 row skipped." in body
    assert "<li>Line 3: follows: unknown source &#39;physics&#39;" in body
    assert load_config(web_config).recipient("cy@school.org") is not None
    exported = admin_client.get("/admin/recipients/roster.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.data.startswith(b"\xef\xbb\xbfemail,name,timezone,send_at,follows\r\n")
    assert b"cy@school.org,Cy,UTC,06:30,maths\r\n" in exported.data


def test_a_file_that_is_no_roster_is_refused_whole(
    web_config: Path, admin_client: FlaskClient, csrf_token_of: Token
) -> None:
    before = web_config.read_text()
    data: dict[str, Any] = form_of(admin_client, "/admin/recipients/", csrf_token_of)
    data["roster"] = (io.BytesIO("email\nbén@x.org\n".encode("latin-1")), "roster.csv")
    response = admin_client.post("/admin/recipients/import", data=data)
    assert response.status_code == 400
    assert "Nothing was imported: the file is not UTF-8" in response.get_data(as_text=True)
    assert web_config.read_text() == before


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/recipients/new", {"email": "cy@school.org"}),
        ("/admin/recipients/edit", {"email": "ana@school.org", "name": "x"}),
        ("/admin/recipients/remove", {"email": "ana@school.org"}),
        ("/admin/recipients/import", {}),
    ],
)
def test_every_form_needs_its_csrf_token(
    web_config: Path, admin_client: FlaskClient, url: str, data: dict[str, str]
) -> None:
    before = web_config.read_text()
    assert admin_client.post(url, data=data).status_code == 400
    forged = admin_client.post(url, data=data | {"csrf_token": "forged"})
    assert forged.status_code == 400
    assert web_config.read_text() == before


def test_hostile_names_and_addresses_are_escaped(
    web_config: Path, admin_client: FlaskClient, csrf_token_of: Token
) -> None:
    with web_config.open("a", encoding="utf-8") as file:
        file.write(
            '\n[[recipients]]\nemail = "x<script>alert(1)</script>@school.org"\n'
            'name = "<img src=x onerror=alert(2)>"\n'
        )
    # Not a valid address: the page says the configuration has a problem, no markup.
    broken = admin_client.get("/admin/recipients/")
    assert "<script>alert(1)" not in broken.get_data(as_text=True)
    web_config.write_text(web_config.read_text().replace("x<script>alert(1)</script>@", "x@"))
    body = admin_client.get("/admin/recipients/").get_data(as_text=True)
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(2)&gt;" in body
    # A source's name is any text: the follows checkboxes show it escaped.
    with web_config.open("a", encoding="utf-8") as file:
        file.write(
            '\n[[sources]]\nkey = "odd"\nkind = "rss"\nname = "<script>alert(4)</script>"\n'
            'url = "https://odd.example/feed"\n'
        )
    form = admin_client.get("/admin/recipients/new").get_data(as_text=True)
    assert "<script>alert(4)" not in form and "&lt;script&gt;alert(4)&lt;/script&gt;" in form
    # A form posted with markup in it comes back escaped.
    data = form_of(admin_client, "/admin/recipients/new", csrf_token_of)
    data |= {"email": "<script>alert(3)</script>@school.org", "name": '"><script>x</script>'}
    response = admin_client.post("/admin/recipients/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>alert(3)" not in page and "<script>x</script>" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;@school.org" in page


def test_pages_need_an_admin(client: FlaskClient) -> None:
    for url in ("/admin/recipients/", "/admin/recipients/roster.csv", "/admin/preview/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/sign-in" in response.headers["Location"]


# -- preview -------------------------------------------------------------------


@pytest.fixture
def with_posts(web_config: Path) -> Path:
    """A post of the blog Ana follows, with a title that is markup."""
    config = load_config(web_config)
    with build_app(config, connectors={}) as app:
        now = app.clock()
        post = make_post(
            "edu-blog", 1, at=now - timedelta(hours=1), title="<b>Exit tickets</b> & more"
        )
        app.repo.save_fetch("edu-blog", FetchResult((post,)), now, now + timedelta(hours=1))
    return web_config


def test_preview_shows_the_digest_its_text_and_the_explain_table(
    with_posts: Path, admin_client: FlaskClient
) -> None:
    response = admin_client.get("/admin/preview/?email=ana@school.org")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "would be sent if it went out now" in body
    assert "&lt;b&gt;Exit tickets&lt;/b&gt; &amp; more" in body  # text version and explain
    assert "<b>Exit tickets</b>" not in body
    assert '<iframe class="digest" sandbox' in body
    frame = body.split('<iframe class="digest" sandbox title="The digest as HTML" src="')[1]
    document = admin_client.get(frame.split('"')[0].replace("&amp;", "&"))
    assert document.status_code == 200
    assert document.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "frame-ancestors 'self'" in document.headers["Content-Security-Policy"]
    assert "Exit tickets" in document.get_data(as_text=True)
    assert "<b>Exit tickets</b>" not in document.get_data(as_text=True)


def test_preview_of_an_unknown_recipient_or_a_bad_day(admin_client: FlaskClient) -> None:
    missing = admin_client.get("/admin/preview/?email=<script>@school.org")
    assert missing.status_code == 404
    assert "There is no recipient &lt;script&gt;@school.org" in missing.get_data(as_text=True)
    bad_day = admin_client.get("/admin/preview/?email=ana@school.org&day=31/12/2026")
    assert bad_day.status_code == 400
    assert "a date like 2026-12-01" in bad_day.get_data(as_text=True)
    assert admin_client.get("/admin/preview/digest.html?email=zed@school.org").status_code == 404


def test_thousands_of_recipients_are_paged_and_searchable(
    web_config: Path, admin_client: FlaskClient
) -> None:
    with web_config.open("a", encoding="utf-8") as file:
        for n in range(450):
            file.write(f'\n[[recipients]]\nemail = "t{n:03}@school.org"\nname = "Teacher {n}"\n')
    first = admin_client.get("/admin/recipients/").get_data(as_text=True)
    assert "452 recipients, 1–200 shown" in first
    assert "Page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = admin_client.get("/admin/recipients/?page=3").get_data(as_text=True)
    assert "401–452 shown" in last and "t449@school.org" in last and "t000@" not in last
    found = admin_client.get("/admin/recipients/?q=Teacher 12").get_data(as_text=True)
    assert "11 of 452 recipients match “Teacher 12”" in found  # 12, 120-129
    assert admin_client.get("/admin/recipients/?page=x9").status_code == 200

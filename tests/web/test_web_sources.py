"""/admin/sources: the list with health, adding by address or by kind, editing,
pausing, removing, OPML, conflicts, escaping and CSRF, at the request level."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import responses
from flask.testing import FlaskClient

from aggregator.app.config import load_config

DATA = Path(__file__).parent.parent / "data"
HOSTILE_NAME = '<script>alert("name")</script> & <b>bold</b>'


def fingerprint_of(page: str) -> str:
    found = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', page)
    assert found, "no fingerprint on the page"
    return found.group(1)


def form_of(client: FlaskClient, url: str) -> tuple[str, dict[str, str]]:
    """The page, and the hidden fields of its first form that has a fingerprint."""
    page = client.get(url).get_data(as_text=True)
    return page, {"csrf_token": csrf_token_from_text(page), "fingerprint": fingerprint_of(page)}


def csrf_token_from_text(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_the_list_shows_each_source_with_its_health(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/sources/")
    body = response.get_data(as_text=True)

    assert response.status_code == 200 and body.count("<h1>") == 1
    assert "An education blog" in body and "https://blog.example/feed" in body
    assert body.count("not fetched yet") == 2
    assert 'aria-current="page">Sources</a>' in body


def test_a_hostile_source_name_is_escaped_on_every_page(
    web_config: Path, admin_client: FlaskClient
) -> None:
    text = web_config.read_text(encoding="utf-8")
    web_config.write_text(
        text.replace('"An education blog"', f"'{HOSTILE_NAME}'"), encoding="utf-8"
    )
    assert load_config(web_config).sources[0].name == HOSTILE_NAME

    for url in ("/admin/sources/", "/admin/sources/edu-blog", "/admin/sources/edu-blog/remove"):
        body = admin_client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<b>bold</b>" not in body, url
        assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in body, url


def test_adding_a_source_by_kind_writes_config_toml(
    web_config: Path, admin_client: FlaskClient
) -> None:
    page, hidden = form_of(admin_client, "/admin/sources/new?kind=mastodon_tag")
    assert 'id="h-instance"' in page and "like mastodon.social" in page  # the REGISTRY's help

    data = {
        **hidden,
        "kind": "mastodon_tag",
        "key": "edutooters",
        "name": "",
        "instance": "mastodon.social",
        "tag": "#EduTooters",
        "token_env": "",
    }
    response = admin_client.post("/admin/sources/new", data=data)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/sources/edutooters")
    source = load_config(web_config).source("edutooters")
    assert source is not None and source.option("tag") == "EduTooters"
    assert '[[sources]]\nkey = "edutooters"\nkind = "mastodon_tag"\n' in web_config.read_text()
    assert "Source edutooters added" in admin_client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_a_rejected_edit_shows_the_problems_next_to_the_fields_and_changes_nothing(
    web_config: Path, admin_client: FlaskClient
) -> None:
    before = web_config.read_bytes()
    _, hidden = form_of(admin_client, "/admin/sources/edu-blog")

    response = admin_client.post(
        "/admin/sources/edu-blog",
        data={**hidden, "kind": "rss", "name": "Blog", "interval_minutes": "2", "url": "ftp://x"},
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert web_config.read_bytes() == before
    assert 'id="e-url"' in body and "not an http(s) URL" in body
    assert 'id="e-interval_minutes"' in body and "at least 5" in body
    assert 'aria-describedby="h-url e-url"' in body and 'aria-invalid="true"' in body
    assert 'value="ftp://x"' in body  # what was typed stays
    assert "Not fetched yet." in body


def test_a_form_loaded_before_someone_else_saved_is_refused_with_a_clear_message(
    web_config: Path, admin_client: FlaskClient
) -> None:
    _, hidden = form_of(admin_client, "/admin/sources/maths")
    web_config.write_text(web_config.read_text() + "\n# edited by hand meanwhile\n")

    response = admin_client.post(
        "/admin/sources/maths", data={**hidden, "name": "Mine", "url": "https://maths.example/rss"}
    )

    assert response.status_code == 409
    assert "changed by someone else since this page was loaded" in response.get_data(as_text=True)
    assert web_config.read_text().endswith("# edited by hand meanwhile\n")
    assert load_config(web_config).source("maths").name == "Maths teachers"


def test_pause_resume_and_remove(web_config: Path, admin_client: FlaskClient) -> None:
    _, hidden = form_of(admin_client, "/admin/sources/maths")
    admin_client.post("/admin/sources/maths/pause", data=hidden)
    assert load_config(web_config).source("maths").paused
    assert "paused" in admin_client.get("/admin/sources/").get_data(as_text=True)

    _, hidden = form_of(admin_client, "/admin/sources/maths")
    admin_client.post("/admin/sources/maths/pause", data=hidden)
    assert not load_config(web_config).source("maths").paused
    assert "paused" not in web_config.read_text()

    page, hidden = form_of(admin_client, "/admin/sources/maths/remove")
    assert "ana@school.org" in page and "ben@school.org" in page
    response = admin_client.post("/admin/sources/maths/remove", data=hidden)
    config = load_config(web_config)
    assert response.status_code == 302 and config.source("maths") is None
    assert [r.follow for r in config.recipients] == [("edu-blog",), ()]


@responses.activate
def test_pasting_a_blog_address_proposes_its_feed_and_prefills_the_form(
    admin_client: FlaskClient,
) -> None:
    blog = "https://room12notes.example.org/"
    page = (DATA / "discovery" / "wordpress_home.html").read_bytes()
    responses.get(blog, body=page, content_type="text/html")

    body = admin_client.get("/admin/sources/new", query_string={"url": blog}).get_data(as_text=True)

    assert "Use Room 12 Notes » Feed" in body
    link = re.search(r'href="(/admin/sources/new\?[^"]+)">Use Room 12 Notes', body)
    assert link
    form = admin_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="https://room12notes.example.org/feed/"' in form
    assert 'value="room-12-notes-feed"' in form


def test_an_address_that_is_not_a_web_address_is_said_next_to_the_field(
    admin_client: FlaskClient,
) -> None:
    response = admin_client.get("/admin/sources/new", query_string={"url": "javascript:alert(1)"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="url-error"' in body and "not an http(s) URL" in body


def test_opml_export_and_import(web_config: Path, admin_client: FlaskClient) -> None:
    exported = admin_client.get("/admin/sources/opml")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert b'xmlUrl="https://blog.example/feed"' in exported.data

    page = admin_client.get("/admin/sources/").get_data(as_text=True)
    hidden = {
        "csrf_token": csrf_token_from_text(page.split('enctype="multipart/form-data"')[1]),
        "fingerprint": fingerprint_of(page),
    }
    upload = (io.BytesIO((DATA / "opml" / "miniflux.opml").read_bytes()), "miniflux.opml")
    response = admin_client.post(
        "/admin/sources/opml", data={**hidden, "opml": upload}, content_type="multipart/form-data"
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 sources added" in body and "broken one" in body
    assert len(load_config(web_config).sources) == 5


def test_an_opml_bomb_is_refused_and_changes_nothing(
    web_config: Path, admin_client: FlaskClient
) -> None:
    before = web_config.read_bytes()
    page = admin_client.get("/admin/sources/").get_data(as_text=True)
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>'
    response = admin_client.post(
        "/admin/sources/opml",
        data={
            "csrf_token": csrf_token_from_text(page),
            "fingerprint": fingerprint_of(page),
            "opml": (io.BytesIO(bomb), "x.opml"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert web_config.read_bytes() == before


@pytest.mark.parametrize(
    "url",
    [
        "/admin/sources/new",
        "/admin/sources/edu-blog",
        "/admin/sources/edu-blog/pause",
        "/admin/sources/edu-blog/fetch",
        "/admin/sources/edu-blog/remove",
        "/admin/sources/opml",
    ],
)
def test_every_form_needs_its_csrf_token(
    web_config: Path, admin_client: FlaskClient, url: str
) -> None:
    before = web_config.read_bytes()
    _, hidden = form_of(admin_client, "/admin/sources/edu-blog")
    data = {
        "fingerprint": hidden["fingerprint"],
        "kind": "rss",
        "key": "x",
        "url": "https://x.org/f",
    }

    missing = admin_client.post(url, data=data)
    altered = admin_client.post(url, data={**data, "csrf_token": hidden["csrf_token"][:-2] + "xx"})

    assert missing.status_code == 400 and altered.status_code == 400
    assert web_config.read_bytes() == before


def test_the_pages_need_a_signed_in_admin(client: FlaskClient) -> None:
    for url in (
        "/admin/sources/",
        "/admin/sources/new",
        "/admin/sources/edu-blog",
        "/admin/sources/opml",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]


def test_an_unknown_source_is_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/sources/nope").status_code == 404

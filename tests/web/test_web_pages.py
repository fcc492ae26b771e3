"""/healthz, the admin's home, and config.toml edits taking effect without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from aggregator.run.web.app import create_app
from tests.smtp_server import free_port
from tests.web.conftest import SECRET, sign_in, write_web_config


def test_healthz_is_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok\n")


def test_healthz_is_503_when_the_database_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLN_WEB_SECRET", SECRET)
    config = write_web_config(tmp_path)
    closed = f"postgresql+psycopg://pln@127.0.0.1:{free_port()}/pln"
    config.write_text(config.read_text().replace('"sqlite:///pln.db"', f'"{closed}"'))
    client = create_app(config, connectors={}).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "unavailable" in response.get_data(as_text=True)
    page = sign_in(client)
    assert page.status_code == 503
    assert "127.0.0.1" not in page.get_data(as_text=True)  # details go to the log only


def test_the_admin_home_counts_what_is_configured(admin_client: FlaskClient) -> None:
    body = admin_client.get("/admin/").get_data(as_text=True)
    assert body.count("<h1>") == 1
    assert '<p class="figure">2</p><p>sources configured' in body
    assert 'aria-current="page">Home</a>' in body


def test_an_edit_of_config_toml_shows_at_the_next_request(
    web_config: Path, admin_client: FlaskClient
) -> None:
    with web_config.open("a", encoding="utf-8") as file:
        file.write(
            '\n[[sources]]\nkey = "third"\nkind = "rss"\nurl = "https://third.example/feed"\n'
        )
    body = admin_client.get("/admin/").get_data(as_text=True)
    assert '<p class="figure">3</p><p>sources configured' in body
    assert admin_client.get("/admin/").status_code == 200  # still signed in


def test_a_broken_edit_gives_503_without_details_then_recovers(
    web_config: Path, admin_client: FlaskClient
) -> None:
    good = web_config.read_text()
    web_config.write_text(good + '\n[[sources]]\nkey = "<b>broken</b>"\n')
    response = admin_client.get("/admin/")
    assert response.status_code == 503
    assert "broken" not in response.get_data(as_text=True)
    web_config.write_text(good + "\n")
    assert admin_client.get("/admin/").status_code == 200


def test_the_home_lists_failing_sources_and_stuck_deliveries_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.app.config import load_config
    from aggregator.app.ingest import fetch_sources
    from aggregator.app.wiring import build_app
    from aggregator.domain.errors import FetchError
    from tests.fakes import FakeConnector
    from tests.web.conftest import add_admin
    from tests.web.test_web_deliveries import record_deliveries

    monkeypatch.setenv("PLN_WEB_SECRET", SECRET)
    hostile = '<script>alert("name")</script>'
    config = write_web_config(tmp_path)
    config.write_text(config.read_text().replace("An education blog", hostile.replace('"', '\\"')))
    failing = FakeConnector(script={"edu-blog": [FetchError("edu-blog", "HTTP 500 <b>oops</b>")]})
    with build_app(load_config(config), connectors={"rss": failing}) as app:
        fetch_sources(app, ["edu-blog"])
    record_deliveries(config)
    add_admin(config)
    app = create_app(config, connectors={})
    client = app.test_client()
    assert sign_in(client).status_code == 302
    body = client.get("/admin/").get_data(as_text=True)
    app.extensions["pln_state"].close()
    assert "Failing sources (1)" in body
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in body and "<script>" not in body
    assert "&lt;b&gt;oops&lt;/b&gt;" in body
    assert "Deliveries (2)" in body  # Ana's unknown day 2 and Ben's failed day 1
    assert "ben@school.org</strong>: 2026-12-01: failed" in body


def test_the_home_says_when_nothing_needs_attention(admin_client: FlaskClient) -> None:
    body = admin_client.get("/admin/").get_data(as_text=True)
    assert "Nothing: every source answered" in body

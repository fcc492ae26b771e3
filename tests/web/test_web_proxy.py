"""Behind a web server on this machine, the limit on failed sign-ins counts
visitors by their X-Forwarded-For address, not the proxy's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aggregator.app.admins import MAX_FAILURES
from aggregator.run.web.app import create_app
from aggregator.run.web.serve import WebServer
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, add_admin, csrf_token_from


class Page:
    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def get_data(self, as_text: bool = True) -> str:
        return self.response.text


@pytest.fixture
def server_url(web_config: Path) -> Iterator[str]:
    add_admin(web_config)
    app = create_app(web_config, connectors={}, sleep=lambda s: None)
    server = WebServer(app, "127.0.0.1", 0)
    thread = server.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(10)
        app.extensions["pln_state"].close()


def attempt(url: str, forwarded_for: str, password: str, email: str) -> int:
    with requests.Session() as browser:
        headers = {"X-Forwarded-For": forwarded_for}
        form = browser.get(f"{url}/admin/sign-in", headers=headers, timeout=10)
        data = {"email": email, "password": password, "csrf_token": csrf_token_from(Page(form))}
        answer = browser.post(
            f"{url}/admin/sign-in", data=data, headers=headers, allow_redirects=False, timeout=10
        )
        return answer.status_code


def test_failures_from_one_visitor_do_not_lock_out_another(server_url: str) -> None:
    guesses = [
        attempt(server_url, "203.0.113.5", "guess", f"x{n}@school.org") for n in range(MAX_FAILURES)
    ]
    assert guesses == [401] * MAX_FAILURES
    assert attempt(server_url, "203.0.113.5", ADMIN_PASSWORD, ADMIN) == 429
    assert attempt(server_url, "198.51.100.20", ADMIN_PASSWORD, ADMIN) == 302

"""Fixtures of the web tests: a configuration, Flask test clients, a live
server, and a real browser (Debian's chromium) with axe-core.

- `web_config`: config.toml on a SQLite file, two sources, two recipients,
  `PLN_WEB_SECRET` set.
- `web_app`, `client`, `admin_client` (signed in as `ADMIN`), and
  `csrf_token_of(response)` for request-level POSTs with CSRF on.
- `live_server` (module-scoped: waitress on a free loopback port, real
  `create_app`, an admin account), `page` (a Playwright page on
  /usr/bin/chromium; one browser per session) and `axe_check(page)`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient

from aggregator.app import admins
from aggregator.app.admins import create_admin
from aggregator.app.config import load_config
from aggregator.app.wiring import build_app
from aggregator.run.web.app import create_app
from aggregator.run.web.serve import WebServer
from tests.conftest import missing_server

SECRET = "web-test-secret-0123456789abcdef"
ADMIN = "admin@school.org"
ADMIN_PASSWORD = "a long enough password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE, DESKTOP = {"width": 375, "height": 812}, {"width": 1280, "height": 900}
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_web_config(folder: Path, extra: str = "", web: str = "") -> Path:
    """A config.toml in `folder` with a SQLite database, two sources and two
    recipients; `web` goes into `[web]` (lines like `listen = "..."`) and
    `extra` is appended (more tables, more entries)."""
    path = folder / "config.toml"
    text = f"""
        [database]
        url = "sqlite:///pln.db"

        [web]
        secret_env = "PLN_WEB_SECRET"
        {web}

        [[sources]]
        key = "edu-blog"
        kind = "rss"
        name = "An education blog"
        url = "https://blog.example/feed"

        [[sources]]
        key = "maths"
        kind = "rss"
        name = "Maths teachers"
        url = "https://maths.example/rss"

        [[recipients]]
        email = "ana@school.org"
        name = "Ana"
        timezone = "Europe/Madrid"
        follow = ["edu-blog", "maths"]

        [[recipients]]
        email = "ben@school.org"
        name = "Ben"
        timezone = "America/New_York"
        follow = ["maths"]
    """
    text = textwrap.dedent(text).replace("{web}", textwrap.dedent(web).strip())
    path.write_text(text + textwrap.dedent(extra), encoding="utf-8")
    return path


def add_admin(config_path: Path, email: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    """Create an admin account in the configuration's database, as `pln admin create` does."""
    with build_app(load_config(config_path), connectors={}) as app:
        create_admin(app, email, password)


def csrf_token_from(response: Any) -> str:
    """The CSRF token of the first form on a page (a test-client response)."""
    found = _CSRF_FIELD.search(response.get_data(as_text=True))
    assert found, "no csrf_token field on the page"
    return found.group(1)


# argon2id as cheap as it goes: the real cost (tenths of a second a hash, on
# purpose) would make the sign-in tests slow. test_admins checks the real one.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admins, "_hasher", lambda: CHEAP_HASHER)
    monkeypatch.setattr(admins, "_decoy_hash", lambda: CHEAP_HASHER.hash("decoy"))


@pytest.fixture
def web_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config.toml for the web app, with its secret in the environment."""
    monkeypatch.setenv("PLN_WEB_SECRET", SECRET)
    return write_web_config(tmp_path)


@pytest.fixture
def slept() -> list[float]:
    """The delays failed sign-ins asked for (recorded, not slept)."""
    return []


@pytest.fixture
def web_app(web_config: Path, slept: list[float]) -> Iterator[flask.Flask]:
    """The real app on `web_config`, with CSRF on and no real sleeping."""
    app = create_app(web_config, connectors={}, sleep=slept.append)
    yield app
    app.extensions["pln_state"].close()


@pytest.fixture
def client(web_app: flask.Flask) -> FlaskClient:
    """A test client of `web_app`, signed in as nobody."""
    return web_app.test_client()


@pytest.fixture
def csrf_token_of() -> Callable[[Any], str]:
    """`csrf_token_of(response)`: the CSRF token of the page's first form."""
    return csrf_token_from


def sign_in(client: FlaskClient, email: str = ADMIN, password: str = ADMIN_PASSWORD) -> Any:
    """Sign in through the form, CSRF token included; returns the POST's response."""
    form = client.get("/admin/sign-in")
    data = {"email": email, "password": password, "csrf_token": csrf_token_from(form)}
    return client.post("/admin/sign-in", data=data)


@pytest.fixture
def admin_client(web_config: Path, client: FlaskClient) -> FlaskClient:
    """`client`, signed in as `ADMIN` through the sign-in form."""
    add_admin(web_config)
    response = sign_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# -- a live server and a real browser ---------------------------------------


@dataclass(frozen=True)
class LiveServer:
    """A running `pln serve` for browser tests."""

    url: str
    config_path: Path


@contextlib.contextmanager
def serving(config_path: Path, **options: Any) -> Iterator[LiveServer]:
    """The real app on `config_path` served by waitress on a free loopback
    port until the block ends (`options` go to `create_app`)."""
    app = create_app(config_path, **options)
    server = WebServer(app, "127.0.0.1", 0)
    thread = server.start()
    try:
        yield LiveServer(server.url, config_path)
    finally:
        server.stop()
        thread.join(10)
        app.extensions["pln_state"].close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """waitress on a free loopback port, serving the real app, with `ADMIN`'s account."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLN_WEB_SECRET", SECRET)
        config_path = write_web_config(tmp_path_factory.mktemp("live"))
        add_admin(config_path)
        with serving(config_path, connectors={}) as server:
            yield server


def _has_browser() -> str | None:
    """Why no browser test can run here, or None."""
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is missing (Debian package chromium): browser tests skipped"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright or axe-playwright-python is not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole session (Debian's, never downloaded)."""
    reason = _has_browser()
    if reason:
        missing_server(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own cookies) at desktop width."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _axe_check(page: Any) -> None:
    """No serious or critical axe-core violation on the page, at phone and desktop
    width, and nothing that makes the page scroll sideways (a wide table scrolls
    inside its own region)."""
    from axe_playwright_python.sync_playwright import Axe

    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{page.url} is {width} px wide at {size['width']} px"
        results = Axe().run(page)
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{page.url} at {size['width']} px"


@pytest.fixture
def axe_check() -> Callable[[Any], None]:
    """`axe_check(page)`: fail on any serious or critical accessibility violation."""
    return _axe_check

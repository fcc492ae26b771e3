"""`[web]` in config.toml: where the pages listen, the address teachers reach, the secret."""

from __future__ import annotations

import textwrap

import pytest

from aggregator.app.checks import config_gaps
from aggregator.app.config import parse_config
from aggregator.config.load import format_problems
from aggregator.domain.errors import ConfigError
from aggregator.domain.hosts import split_listen

RSS = '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n'
SECRET = {"PLN_WEB_SECRET": "a-secret-of-enough-characters", "PLN_UNSUB": "u" * 20}


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text).lstrip() + RSS, "config.toml", environ or {})
    return format_problems(info.value)


def config_of(text: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_config(textwrap.dedent(text).lstrip() + RSS, "config.toml", environ or SECRET)


def test_web_defaults_serve_nothing_from_pln_run() -> None:
    web = config_of("").web
    assert (web.listen, web.public_url, web.secret) == ("", "", None)


def test_a_full_web_table() -> None:
    web = config_of(
        """
        [web]
        listen = "0.0.0.0:8080"
        public_url = "https://digest.school.org/"
        secret_env = "PLN_WEB_SECRET"
        """
    ).web
    assert (web.listen, web.public_url, web.secret_env) == (
        "0.0.0.0:8080",
        "https://digest.school.org",
        "PLN_WEB_SECRET",
    )
    assert web.secret is not None and web.secret.reveal() == SECRET["PLN_WEB_SECRET"]
    assert web.is_https and "a-secret" not in repr(web)


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("8080", "is not HOST:PORT"),
        ("localhost:http", "is not HOST:PORT"),
        ("127.0.0.1:70000", "is not HOST:PORT"),
        ("::1:8080", "IPv6 address in brackets"),
    ],
)
def test_a_bad_listen_is_a_problem_on_its_line(listen: str, message: str) -> None:
    found = problems(f'[web]\nsecret_env = "PLN_WEB_SECRET"\nlisten = "{listen}"\n', SECRET)
    assert len(found) == 1 and found[0].startswith("config.toml:3: web.listen: ")
    assert message in found[0]


def test_listen_takes_ipv6_in_brackets() -> None:
    assert split_listen("[::1]:8080") == ("::1", 8080)
    assert config_of('[web]\nlisten = "[::1]:8080"\nsecret_env = "PLN_WEB_SECRET"\n').web.listen


@pytest.mark.parametrize(
    "url",
    ["http://school.org", "ftp://school.org", "https://", "https://school.org/?x=1", "school.org"],
)
def test_public_url_must_be_https_except_for_this_machine(url: str) -> None:
    found = problems(f'[web]\npublic_url = "{url}"\n')
    assert len(found) == 1 and found[0].startswith("config.toml:2: web.public_url: must be ")
    assert "https://" in found[0]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:8080/pln", "http://[::1]"]
)
def test_public_url_may_be_http_on_loopback(url: str) -> None:
    assert config_of(f'[web]\npublic_url = "{url}"\n').web.public_url == url.rstrip("/")


def test_listen_needs_the_secret_set() -> None:
    assert problems('[web]\nlisten = "127.0.0.1:8080"\n') == [
        "config.toml:1: web.secret_env: is required when listen is set"
    ]
    assert problems('[web]\nlisten = "127.0.0.1:8080"\nsecret_env = "PLN_WEB_SECRET"\n') == [
        "config.toml:3: web.secret_env: environment variable PLN_WEB_SECRET is not set"
    ]


def test_a_short_secret_is_refused() -> None:
    found = problems('[web]\nsecret_env = "PLN_WEB_SECRET"\n', {"PLN_WEB_SECRET": "short"})
    assert len(found) == 1 and "PLN_WEB_SECRET is too short" in found[0]
    assert "short'" not in found[0]


def test_an_unknown_web_key_is_a_problem() -> None:
    found = problems('[web]\nlisten_on = "127.0.0.1:8080"\n')
    assert len(found) == 1 and "web.listen_on" in found[0] and "listen" in found[0]


def test_email_public_url_is_still_read_with_a_note() -> None:
    config = config_of(
        """
        [email]
        public_url = "https://school.org/pln"
        unsubscribe_secret_env = "PLN_UNSUB"
        """
    )
    assert config.web.public_url == "https://school.org/pln"
    _errors, notes = config_gaps(config)
    assert any("[email] public_url is used as [web] public_url; move it" in n for n in notes)


def test_web_public_url_takes_over_from_email() -> None:
    config = config_of(
        """
        [email]
        public_url = "https://old.school.org/pln"
        unsubscribe_secret_env = "PLN_UNSUB"

        [web]
        public_url = "https://digest.school.org"
        """
    )
    assert config.web.public_url == "https://digest.school.org"
    _errors, notes = config_gaps(config)
    assert any("[email] public_url is ignored" in n for n in notes)

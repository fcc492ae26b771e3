"""Loading and validating config.toml: what an admin sees from `pln check`."""

from __future__ import annotations

import json
import os
import re
import textwrap
import tomllib
from dataclasses import fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from aggregator.app.config import load_config, parse_config
from aggregator.config.load import format_problems
from aggregator.config.types import Config, QueueConfig
from aggregator.domain.errors import ConfigError
from aggregator.domain.secret import Secret
from connectors import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
SECRET_VALUE = "s3cr3t-DO-NOT-SHOW-7f2a"

RSS = """[[sources]]
key = "cult-of-pedagogy"
kind = "rss"
url = "https://www.cultofpedagogy.com/feed/"
"""


def toml(text: str) -> str:
    """Dedented, without the leading newline, so line 1 is the first line written."""
    return textwrap.dedent(text).lstrip("\n")


def example_environ() -> dict[str, str]:
    """Every variable the example names (even in comments), set to a secret."""
    names = re.findall(r'_env = "(\w+)"', EXAMPLE.read_text(encoding="utf-8"))
    return {name: f"{SECRET_VALUE}-{name}" for name in names}


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    """What `pln check` would print for `text` saved as config.toml."""
    with pytest.raises(ConfigError) as info:
        parse_config(toml(text), "config.toml", environ or {})
    return format_problems(info.value)


def only_problem(text: str, environ: dict[str, str] | None = None) -> str:
    found = problems(text, environ)
    assert len(found) == 1, found
    return found[0]


# --- the example ----------------------------------------------------------


def test_example_loads_with_one_source_of_each_kind() -> None:
    environ = example_environ()
    config = load_config(EXAMPLE, environ)
    assert config.path == str(EXAMPLE)
    assert sorted({s.kind for s in config.sources}) == sorted(REGISTRY)
    assert len(config.recipients) == 2
    assert config.email.password is not None
    assert config.email.password.reveal() == environ["PLN_SMTP_PASSWORD"]
    assert config.twitter.bearer_token == Secret(
        "TWITTER_BEARER_TOKEN", environ["TWITTER_BEARER_TOKEN"]
    )
    bluesky = next(s for s in config.sources if s.kind == "bluesky_search")
    app_password = config.secret(bluesky.option("app_password_env"))
    assert app_password is not None and app_password.reveal() == environ["BLUESKY_APP_PASSWORD"]
    assert SECRET_VALUE not in repr(config)


# Keys still read but superseded (the example's comments point to the new key).
SUPERSEDED = {"email.public_url"}
# Fields that are not keys in the file, and fields spelled differently there.
COMPUTED = {"path", "secrets", "written_email"}
KEY_FOR_FIELD = {
    "from_address": "from",
    "password": "password_env",
    "bearer_token": "bearer_token_env",
    "access_token": "access_token_env",
    "unsubscribe_secret": "unsubscribe_secret_env",
    "secret": "secret_env",
}


def undocumented(cls: type, entries: list[dict[str, Any]], where: str) -> list[str]:
    """Keys of dataclass `cls` that appear in none of `entries` (the example's tables)."""
    missing = []
    hints = get_type_hints(cls)
    for field in fields(cls):
        key = KEY_FOR_FIELD.get(field.name, field.name)
        kind = hints[field.name]
        if field.name in COMPUTED or field.name == "options" or where + key in SUPERSEDED:
            continue
        if is_dataclass(kind):
            missing += undocumented(kind, [e.get(key, {}) for e in entries], f"{where}{key}.")
        elif get_origin(kind) is tuple and is_dataclass(get_args(kind)[0]):
            nested = [item for e in entries for item in e.get(key, [])]
            missing += undocumented(get_args(kind)[0], nested, f"{where}{key}[].")
        elif not any(key in e for e in entries):
            missing.append(where + key)
    return missing


def commented_out(cls: type, text: str) -> list[str]:
    """Keys of dataclass `cls` not shown, commented out, in `text` (an optional
    table the example leaves off, like [queue])."""
    return [
        KEY_FOR_FIELD.get(f.name, f.name)
        for f in fields(cls)
        if not re.search(rf"^#\s*{KEY_FOR_FIELD.get(f.name, f.name)}\s*=", text, re.MULTILINE)
    ]


def test_every_config_key_is_documented_in_the_example() -> None:
    """STYLE §7: the example documents every key, and each kind's options."""
    text = EXAMPLE.read_text(encoding="utf-8")
    document = tomllib.loads(text)
    # [queue] turns workers on: the example shows it commented out, every key.
    assert "queue" not in document and re.search(r"^# \[queue\]$", text, re.MULTILINE)
    assert commented_out(QueueConfig, text) == []
    assert undocumented(Config, [{**document, "queue": {}}], "") == []
    for kind, spec in REGISTRY.items():
        entries = [s for s in document["sources"] if s["kind"] == kind]
        assert entries, f"no {kind} source in the example"
        for name in spec.options:
            commented = re.search(rf"^#\s*{name}\s*=", text, re.MULTILINE)
            assert any(name in e for e in entries) or commented, f"{kind}.{name} undocumented"


# --- many problems at once ------------------------------------------------


def test_every_problem_is_listed_with_its_line_and_key() -> None:
    text = """
        [email]
        smtp_port = "587"
        security = "tls"

        [[sources]]
        key = "cult-of-pedagogy"
        kind = "rss"
        url = "https://www.cultofpedagogy.com/feed/"

        [[sources]]
        key = "edchat"
        kind = "twitter_search"
        query = "#edchat"

        [[sources]]
        key = "edutopia"
        kind = "rss"
        url = "edutopia.org/rss.xml"

        [[recipients]]
        email = "ana.school.org"
        reading_minutes = 90
        mute = "webinar"
    """
    assert problems(text) == [
        "config.toml:2: email.smtp_port: must be a whole number",
        "config.toml:3: email.security: must be one of: starttls, ssl, none",
        "config.toml:10: twitter.bearer_token_env: is required by source 'edchat'",
        "config.toml:18: sources[3].url: not an http(s) URL",
        "config.toml:21: recipients[1].email: not an email address, like ana@school.org",
        "config.toml:22: recipients[1].reading_minutes: must be between 1 and 60",
        'config.toml:23: recipients[1].mute: must be a list of strings, like ["a", "b"]',
    ]


def test_missing_required_key_points_at_its_table() -> None:
    text = """
        [[sources]]
        key = "edchat"
        kind = "twitter_search"

        [[sources]]
        key = "cult-of-pedagogy"
        kind = "rss"
    """
    assert problems(text, {"TWITTER_BEARER_TOKEN": "t"}) == [
        "config.toml:1: sources[1].query: is required for a twitter_search source",
        "config.toml:1: twitter.bearer_token_env: is required by source 'edchat'",
        "config.toml:5: sources[2].url: is required for a rss source",
    ]


def test_a_multiline_string_does_not_confuse_line_numbers() -> None:
    text = '''
        [[sources]]
        key = "cult-of-pedagogy"
        name = """
        [[sources]]
        key = "not a key"
        """
        kind = "rss"
        url = "https://www.cultofpedagogy.com/feed/"

        [[sources]]
        key = "edutopia"
        kind = "rss"
        url = "ftp://edutopia.org/rss.xml"
    '''
    assert only_problem(text) == "config.toml:13: sources[2].url: not an http(s) URL"


# --- unknown keys and kinds -------------------------------------------------


def test_unknown_key_suggests_the_close_one() -> None:
    text = """
        [email]
        smtp_hots = "smtp.school.org"
    """
    assert only_problem(text) == (
        "config.toml:2: email.smtp_hots: unknown key 'smtp_hots' (did you mean 'smtp_host'?)"
    )


def test_unknown_section_suggests_the_close_one() -> None:
    assert only_problem("[databse]\nurl = 'sqlite:///x.db'\n") == (
        "config.toml:1: databse: unknown key 'databse' (did you mean 'database'?)"
    )


def test_option_of_another_kind_is_an_unknown_key() -> None:
    text = RSS + 'query = "#edchat"\nurll = "x"\n'
    assert problems(text) == [
        "config.toml:5: sources[1].query: unknown key 'query' for a rss source",
        "config.toml:6: sources[1].urll: unknown key 'urll' for a rss source (did you mean 'url'?)",
    ]


def test_unknown_kind_lists_the_valid_ones() -> None:
    message = only_problem(RSS.replace('kind = "rss"', 'kind = "rs"'))
    assert message.startswith(
        "config.toml:3: sources[1].kind: unknown kind 'rs' (did you mean 'rss'?)"
    )
    assert message.endswith("valid kinds: " + ", ".join(REGISTRY))


# --- values -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://www.cultofpedagogy.com/feed/",
        "www.cultofpedagogy.com/feed/",
        "https://",
        "https://host:99999/feed",
        "https://[::1/feed",
        "",
    ],
)
def test_a_feed_url_must_be_http_or_https_with_a_host(url: str) -> None:
    text = RSS.replace("https://www.cultofpedagogy.com/feed/", url)
    message = "must not be empty" if not url else "not an http(s) URL"
    assert only_problem(text) == f"config.toml:4: sources[1].url: {message}"


def test_duplicate_source_keys() -> None:
    text = RSS + RSS.replace("cultofpedagogy.com", "edutopia.org")
    assert only_problem(text) == (
        "config.toml:6: sources[2].key: duplicate key 'cult-of-pedagogy' (also sources[1])"
    )


def test_duplicate_recipients_ignore_case() -> None:
    text = """
        [[recipients]]
        email = "ana@school.org"

        [[recipients]]
        email = "Ana@School.org"
    """
    assert only_problem(text) == (
        "config.toml:5: recipients[2].email: duplicate recipient 'Ana@School.org' (also recipients[1])"
    )


# What the message headers and the SMTP envelope cannot carry (TOML escapes).
UNSENDABLE = [
    pytest.param("ana..smith@school.org", "two dots in a row", id="double-dot"),
    pytest.param("anä@school.org", "only ASCII addresses can be sent to", id="non-ascii"),
    pytest.param('ana\\"x@school.org', "contains '\"' before the @", id="quote"),
    pytest.param("ana\\u0000@school.org", "control character (U+0000)", id="nul"),
    pytest.param("ana@school_district.org", "not a host name", id="underscore-domain"),
    pytest.param("a" * 65 + "@school.org", "more than 64 characters before the @", id="long-name"),
]


@pytest.mark.parametrize("address, why", UNSENDABLE)
def test_a_recipient_address_mail_cannot_be_sent_to_is_refused(address: str, why: str) -> None:
    found = only_problem(f"""
        [[recipients]]
        email = "{address}"
    """)
    assert found.startswith("config.toml:2: recipients[1].email: cannot be sent to: the address ")
    assert why in found and found.isprintable()


@pytest.mark.parametrize("address, why", UNSENDABLE)
@pytest.mark.parametrize("key", ["from", "admin"])
def test_a_sender_or_admin_mail_cannot_carry_is_refused(key: str, address: str, why: str) -> None:
    found = only_problem(f"""
        [email]
        {key} = "IT <{address}>"
    """)
    assert found.startswith(f"config.toml:2: email.{key}: the address ")
    assert why in found and found.isprintable()


@pytest.mark.parametrize(
    "address", ["o'brien+pln@school.org", "digest@localhost", "Ana.Diaz@District-7.k12.example"]
)
def test_unusual_but_sendable_addresses_are_accepted(address: str) -> None:
    config = parse_config(
        toml(f"""
        [email]
        admin = "{address}"

        [[recipients]]
        email = "{address}"
        """),
        "config.toml",
        {},
    )
    assert config.email.admin == address and config.recipients[0].to_address == address
    assert config.recipients[0].email == address.lower()  # one identity whatever the case


def test_a_key_written_twice_in_one_table_is_a_toml_error_with_its_line() -> None:
    text = RSS + 'url = "https://www.edutopia.org/rss.xml"\n'
    assert only_problem(text) == (
        "config.toml:5: invalid TOML: cannot overwrite a value (is a key set twice?)"
    )


def test_toml_syntax_error_gives_the_line() -> None:
    text = '[email]\nsmtp_host = "smtp.school.org"\nsmtp_port 587\n'
    assert only_problem(text) == (
        "config.toml:3: invalid TOML: expected '=' after a key in a key/value pair"
    )


def test_source_key_format() -> None:
    text = RSS.replace('key = "cult-of-pedagogy"', 'key = "Cult of Pedagogy"')
    assert only_problem(text) == (
        "config.toml:2: sources[1].key: must be lower-case letters, digits, - and _ "
        "(like cult-of-pedagogy)"
    )


@pytest.mark.parametrize("length, problem", [(200, None), (201, "not 201")])
def test_a_source_key_fits_the_database_column(length: int, problem: str | None) -> None:
    text = f"""
        [[sources]]
        key = "{"k" * length}"
        kind = "rss"
        url = "https://blog.example/feed"
    """
    if problem is None:
        assert parse_config(toml(text), "config.toml", {}).sources[0].key == "k" * length
    else:
        assert only_problem(text) == (
            f"config.toml:2: sources[1].key: must be at most 200 characters, {problem}"
        )


def test_follow_of_an_unknown_source_suggests_the_close_one() -> None:
    text = (
        RSS
        + """
        [[recipients]]
        email = "ana@school.org"
        follow = ["cult-of-pedagogy", "cult-of-pedagogi", "edchat"]
    """
    )
    assert problems(text) == [
        "config.toml:8: recipients[1].follow: unknown source 'cult-of-pedagogi' "
        "(did you mean 'cult-of-pedagogy'?)",
        "config.toml:8: recipients[1].follow: unknown source 'edchat'",
    ]


@pytest.mark.parametrize(
    ("zone", "hint"),
    [
        ("America/Chicgo", " (did you mean 'America/Chicago'?)"),
        ("Europe/Londn", " (did you mean 'Europe/London'?)"),
        ("America", None),
        ("../etc/passwd", ""),
    ],
)
def test_timezone_must_be_an_iana_name(zone: str, hint: str | None) -> None:
    text = f'[[recipients]]\nemail = "ana@school.org"\ntimezone = "{zone}"\n'
    message = only_problem(text)
    assert message.startswith(f"config.toml:3: recipients[1].timezone: unknown time zone {zone!r}")
    assert message.endswith("; use an IANA name like America/Chicago")
    if hint is not None:
        assert hint in message


@pytest.mark.parametrize("send_at", ['"24:00"', '"6.30"', '"06:60"', '"6pm"', "630"])
def test_send_at_must_be_a_24_hour_time(send_at: str) -> None:
    text = f'[[recipients]]\nemail = "ana@school.org"\nsend_at = {send_at}\n'
    message = only_problem(text)
    assert message.startswith("config.toml:3: recipients[1].send_at: ")


@pytest.mark.parametrize(
    ("written", "kept"), [('"6:30"', "06:30"), ("06:30:00", "06:30"), ('"23:05"', "23:05")]
)
def test_send_at_is_kept_as_hh_mm(written: str, kept: str) -> None:
    config = parse_config(
        f'[[recipients]]\nemail = "ana@school.org"\nsend_at = {written}\n', "", {}
    )
    assert config.recipients[0].send_at == kept


def test_recipient_defaults() -> None:
    config = parse_config('[[recipients]]\nemail = "ana@school.org"\n', "", {})
    recipient = config.recipients[0]
    assert (recipient.timezone, recipient.reading_minutes, recipient.follow) == ("UTC", 5, ())


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("intranet.school.local", ""),
        ("127.0.0.1:8080", ""),
        ("10.20.0.0/16", ""),
        ("fd00::/8", ""),
        ("::1", ""),
        ("[::1]:8080", ""),
        ("10.20.5.0/16", "not a CIDR network (10.20.5.0/16 has host bits set)"),
        ("10.0.0.0/33", "not a CIDR network"),
        ("intranet:0", "'intranet:0': the port must be between 1 and 65535"),
        ("intranet:70000", "'intranet:70000': the port must be between 1 and 65535"),
        ("http://intranet", "'http://intranet' is not a host, host:port or CIDR network"),
    ],
)
def test_allow_private_entries(entry: str, error: str) -> None:
    text = f'[fetch]\nallow_private = ["{entry}"]\n'
    if not error:
        assert parse_config(text, "", {}).fetch.allow_private == (entry,)
    else:
        assert only_problem(text).startswith(f"config.toml:2: fetch.allow_private[1]: {error}")


def test_type_errors_say_what_is_expected() -> None:
    text = """
        [fetch]
        workers = 8.5
        timeout_seconds = "20"
        allow_private = "10.0.0.0/8"
        user_agent = 7
    """
    assert problems(text) == [
        "config.toml:2: fetch.workers: must be a whole number",
        "config.toml:3: fetch.timeout_seconds: must be a number",
        'config.toml:4: fetch.allow_private: must be a list of strings, like ["a", "b"]',
        'config.toml:5: fetch.user_agent: must be text in quotes, like "this"',
    ]


def test_a_section_written_as_a_value_is_reported() -> None:
    assert only_problem('email = "digest@school.org"\n') == (
        "config.toml:1: email: must be a table: write it as [email]"
    )


def test_mastodon_instance_and_tag_are_normalised() -> None:
    text = """
        [[sources]]
        key = "edchat-mastodon"
        kind = "mastodon_tag"
        instance = "https://Mastodon.Social/"
        tag = "#edchat"
    """
    source = parse_config(toml(text), "", {}).sources[0]
    assert source.option("instance") == "https://mastodon.social"
    assert source.option("tag") == "edchat"


def test_email_inbox_options_get_their_defaults() -> None:
    text = """
        [[sources]]
        key = "newsletters"
        kind = "email_inbox"
        host = "imap.school.org"
        username = "pln-inbox@school.org"
        password_env = "PLN_IMAP_PASSWORD"
    """
    config = parse_config(toml(text), "", {"PLN_IMAP_PASSWORD": SECRET_VALUE})
    source = config.sources[0]
    assert (source.option("port"), source.option("mailbox"), source.option("mark_read")) == (
        "993",
        "INBOX",
        "false",
    )
    secret = config.secret(source.option("password_env"))
    assert secret is not None and secret.reveal() == SECRET_VALUE


# --- secrets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key"),
    [("email", "password"), ("twitter", "bearer_token"), ("facebook", "access_token")],
)
def test_a_secret_written_in_the_file_is_refused_without_echoing_it(section: str, key: str) -> None:
    lines = problems(f'[{section}]\n{key} = "{SECRET_VALUE}"\n')
    assert lines == [
        f"config.toml:2: {section}.{key}: secrets are never written in the file: "
        f'use {key}_env = "NAME" and set NAME in the environment'
    ]


def test_a_secret_in_a_source_or_the_database_url_is_refused() -> None:
    text = (
        RSS
        + f"""
        app_password = "{SECRET_VALUE}"

        [database]
        url = "postgresql+psycopg://pln:{SECRET_VALUE}@db.district.org/pln"
    """
    )
    lines = problems(text)
    assert [line.split(": secrets")[0] for line in lines] == [
        "config.toml:6: sources[1].app_password",
        "config.toml:9: database.url",
    ]
    assert SECRET_VALUE not in "\n".join(lines)


def test_a_pasted_secret_in_an_env_key_is_not_echoed() -> None:
    message = only_problem(f'[email]\npassword_env = "{SECRET_VALUE}"\n')
    assert message == (
        "config.toml:2: email.password_env: must name an environment variable, like PLN_SMTP_PASSWORD"
    )


def test_unset_environment_variable_is_a_problem_only_when_used() -> None:
    text = '[twitter]\nbearer_token_env = "TWITTER_BEARER_TOKEN"\n'
    assert parse_config(text, "", {}).twitter.bearer_token is None
    text += '[[sources]]\nkey = "edchat"\nkind = "twitter_search"\nquery = "#edchat"\n'
    assert only_problem(text, {"TWITTER_BEARER_TOKEN": ""}) == (
        "config.toml:2: twitter.bearer_token_env: environment variable TWITTER_BEARER_TOKEN is not set"
    )


def test_smtp_password_is_needed_when_username_is_set() -> None:
    text = '[email]\nusername = "digest@school.org"\n'
    assert (
        only_problem(text) == "config.toml:1: email.password_env: is required when username is set"
    )
    text += 'password_env = "PLN_SMTP_PASSWORD"\n'
    assert only_problem(text) == (
        "config.toml:3: email.password_env: environment variable PLN_SMTP_PASSWORD is not set"
    )
    assert parse_config('[email]\nsmtp_host = "relay.school.org"\n', "", {}).email.password is None


def test_source_secret_must_be_set() -> None:
    text = """
        [[sources]]
        key = "edusky"
        kind = "bluesky_search"
        query = "#edusky"
        handle_env = "BLUESKY_HANDLE"
        app_password_env = "BLUESKY_APP_PASSWORD"
    """
    assert only_problem(text, {"BLUESKY_HANDLE": "lincolnms.bsky.social"}) == (
        "config.toml:6: sources[1].app_password_env: environment variable BLUESKY_APP_PASSWORD is not set"
    )


def test_secret_values_never_show_in_reprs_or_errors() -> None:
    secret = Secret("PLN_SMTP_PASSWORD", SECRET_VALUE)
    assert SECRET_VALUE not in repr(secret) + str(secret) + f"{secret}"
    assert repr(secret) == "Secret(PLN_SMTP_PASSWORD=<redacted>)"
    environ = example_environ()
    text = EXAMPLE.read_text(encoding="utf-8").replace('send_at = "06:30"', 'send_at = "6:30am"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.toml", environ)
    shown = str(info.value) + repr(info.value.problems) + "\n".join(format_problems(info.value))
    assert "send_at" in shown
    assert SECRET_VALUE not in shown


# --- files and paths --------------------------------------------------------


def test_relative_sqlite_path_is_next_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "config.toml").write_text('[database]\nurl = "sqlite:///data/pln.db?timeout=5"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config("etc/config.toml", {})
    assert config.path == str(folder / "config.toml")
    assert config.database.url == f"sqlite:///{folder / 'data' / 'pln.db'}?timeout=5"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/pln/pln.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://pln@db/pln",
    ],
)
def test_other_database_urls_are_kept(url: str, tmp_path: Path) -> None:
    assert parse_config(f'[database]\nurl = "{url}"\n', tmp_path / "c.toml", {}).database.url == url


def test_default_database_is_next_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config("", tmp_path / "config.toml", {})
    assert config.database.url == f"sqlite:///{tmp_path / 'pln.db'}"


def test_missing_file_says_to_copy_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", {})
    expected = "config.toml: not found: copy config.example.toml to config.toml and edit it"
    assert format_problems(info.value) == [expected]
    assert str(info.value) == expected


def test_load_reads_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(
        '\ufeff[[recipients]]\nemail = "ana@school.org"\nname = "Ana Núñez"\n'.encode()
    )
    assert load_config(path, {}).recipients[0].name == "Ana Núñez"


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "PLN_SMTP_PASSWORD", SECRET_VALUE)
    text = '[email]\nusername = "digest@school.org"\npassword_env = "PLN_SMTP_PASSWORD"\n'
    password = parse_config(text).email.password
    assert password is not None and password.reveal() == SECRET_VALUE


X_USER = """
    [twitter]
    bearer_token_env = "TWITTER_BEARER_TOKEN"

    [[sources]]
    key = "edutopia-x"
    kind = "twitter_user"
    username = "@edutopia"
"""


def test_x_read_budget_defaults_to_100_posts_a_day() -> None:
    config = parse_config(toml(X_USER), "", {"TWITTER_BEARER_TOKEN": SECRET_VALUE})
    assert config.sources[0].option("max_posts_per_day") == "100"


def test_x_read_budget_is_kept_as_written() -> None:
    text = X_USER + "    max_posts_per_day = 250\n"
    config = parse_config(toml(text), "", {"TWITTER_BEARER_TOKEN": SECRET_VALUE})
    assert config.sources[0].option("max_posts_per_day") == "250"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1"),
        ('"100"', "must be a whole number"),
        ("2.5", "must be a whole number"),
    ],
)
def test_x_read_budget_must_be_a_positive_whole_number(value: str, message: str) -> None:
    text = X_USER + f"    max_posts_per_day = {value}\n"
    environ = {"TWITTER_BEARER_TOKEN": SECRET_VALUE}
    assert only_problem(text, environ) == f"config.toml:8: sources[1].max_posts_per_day: {message}"


# --- schedule, calendar and school days -------------------------------------


def test_school_days_schedule_and_holidays_are_read() -> None:
    text = """
        [schedule]
        misfire_grace_minutes = 45
        weekly_health_email = "Fri"

        [[calendar.holidays]]
        name = "Winter break"
        first = 2026-12-21
        last = "2027-01-01"

        [[recipients]]
        email = "ana@school.org"
        days = ["fri", "MON", "wed"]
    """
    config = parse_config(toml(text), "config.toml", {})
    assert config.recipients[0].days == ("mon", "wed", "fri")
    assert (config.schedule.misfire_grace_minutes, config.schedule.weekly_health_email) == (
        45,
        "fri",
    )
    holiday = config.calendar.holidays[0]
    assert (holiday.name, holiday.first.isoformat(), holiday.last.isoformat()) == (
        "Winter break",
        "2026-12-21",
        "2027-01-01",
    )


def test_schedule_and_calendar_problems_are_listed_with_their_lines() -> None:
    text = """
        [schedule]
        misfire_grace_minutes = -5
        weekly_health_email = "monday"
        timezone = "Mars/Olympus"

        [[calendar.holidays]]
        name = "Backwards"
        first = 2027-01-01
        last = 2026-12-21

        [[calendar.holidays]]
        first = "next week"

        [[recipients]]
        email = "ana@school.org"
        days = ["mon", "funday"]
    """
    assert problems(text) == [
        "config.toml:2: schedule.misfire_grace_minutes: must be between 0 and 1440",
        "config.toml:3: schedule.weekly_health_email: must be a day "
        "(mon, tue, wed, thu, fri, sat, sun) or false",
        "config.toml:4: schedule.timezone: unknown time zone 'Mars/Olympus'; "
        "use an IANA name like Europe/London",
        "config.toml:9: calendar.holidays[1].last: is before first (2027-01-01)",
        "config.toml:11: calendar.holidays[2].last: is required (a date like 2026-12-21)",
        "config.toml:12: calendar.holidays[2].first: must be a date like 2026-12-21",
        "config.toml:16: recipients[1].days: unknown day 'funday'; "
        "use mon, tue, wed, thu, fri, sat, sun",
    ]


# --- [email] delivery keys ----------------------------------------------------


def test_email_delivery_keys_are_read() -> None:
    config = parse_config(
        toml("""
        [email]
        backend = "file"
        folder = "outbox"
        admin = "IT <it@school.org>"
        public_url = "https://school.org/pln/"
        unsubscribe_secret_env = "PLN_UNSUBSCRIBE_SECRET"
        resubscribe = { "ana@school.org" = 2026-12-01 }
        """),
        "/srv/pln/config.toml",
        {"PLN_UNSUBSCRIBE_SECRET": "0123456789abcdefXYZ"},
    )
    email = config.email
    assert (email.backend, email.folder, email.admin) == (
        "file",
        "/srv/pln/outbox",
        "IT <it@school.org>",
    )
    assert email.public_url == "https://school.org/pln"
    assert email.unsubscribe_secret == Secret("PLN_UNSUBSCRIBE_SECRET", "0123456789abcdefXYZ")
    assert email.resubscribe == (("ana@school.org", date(2026, 12, 1)),)


def test_email_delivery_defaults() -> None:
    email = parse_config("", "config.toml", {}).email
    assert (email.backend, email.folder, email.admin, email.public_url) == ("smtp", "", "", "")
    assert email.unsubscribe_secret is None and email.resubscribe == ()


def test_email_delivery_problems_are_listed_with_their_lines() -> None:
    text = """
        [email]
        backend = "pigeon"
        admin = "the IT desk"
        public_url = "http://school.org/pln"
        resubscribe = { "ana" = 2026-12-01, "ben@school.org" = "yesterday" }
        """
    assert problems(text) == [
        "config.toml:1: email.unsubscribe_secret_env: is required when public_url is set",
        "config.toml:2: email.backend: must be one of: smtp, file",
        "config.toml:3: email.admin: not an email address, like it@school.org",
        "config.toml:4: email.public_url: must be an https:// address, like https://school.org/pln",
        "config.toml:5: email.resubscribe.ana: not an email address",
        "config.toml:5: email.resubscribe.ben@school.org: must be a day without quotes, "
        "like 2026-12-01",
    ]


def test_file_backend_needs_a_folder() -> None:
    assert (
        only_problem("""
        [email]
        backend = "file"
        """)
        == 'config.toml:1: email.folder: is required when backend = "file"'
    )


def test_a_short_unsubscribe_secret_is_refused_without_echoing_it() -> None:
    found = only_problem(
        """
        [email]
        unsubscribe_secret_env = "PLN_UNSUBSCRIBE_SECRET"
        """,
        {"PLN_UNSUBSCRIBE_SECRET": "hunter2"},
    )
    assert found.startswith(
        "config.toml:2: email.unsubscribe_secret_env: PLN_UNSUBSCRIBE_SECRET is too short"
    )
    assert "hunter2" not in found


@pytest.mark.parametrize(
    ("words", "message"),
    [
        pytest.param(
            [f"w{n}" for n in range(201)],
            "at most 200 words or phrases (this list has 201)",
            id="too-many",
        ),
        pytest.param(["ok", "x" * 101], "'xxxxxxxxxxxxxxxxxxxx'... is longer than 100", id="long"),
        pytest.param(["ok", " "], "holds an empty entry; remove it", id="empty"),
    ],
)
def test_mute_and_boost_lists_are_bounded(words: list[str], message: str) -> None:
    for key in ("mute", "boost"):
        text = f"""
            [[recipients]]
            email = "ana@school.org"
            {key} = {json.dumps(words)}
        """
        assert only_problem(text).startswith(f"config.toml:3: recipients[1].{key}: {message}")


@pytest.mark.parametrize("key", ["from", "admin"])
@pytest.mark.parametrize("breaks", ["\\r\\n", "\\n", "\\r"])
def test_a_line_break_in_the_sender_or_admin_is_refused_on_one_line(key: str, breaks: str) -> None:
    """A line break would start a header of its own (Bcc: ...) in every message."""
    found = only_problem(f"""
        [email]
        {key} = "it@school.org{breaks}Bcc: everyone@elsewhere.example"
    """)
    assert found == (
        f"config.toml:2: email.{key}: must be one line: a line break would start another header"
    )


# --- no SMTP password in clear ------------------------------------------------


@pytest.mark.parametrize(
    "settings, refused",
    [
        pytest.param('smtp_host = "smtp.school.org"', True, id="remote"),
        pytest.param('smtp_host = "10.0.0.25"', True, id="private-address"),
        pytest.param('smtp_host = "localhost"', False, id="localhost"),
        pytest.param('smtp_host = "127.0.0.1"', False, id="loopback-v4"),
        pytest.param('smtp_host = "::1"', False, id="loopback-v6"),
        pytest.param(
            'smtp_host = "smtp.school.org"\nallow_plaintext_auth = true', False, id="allowed"
        ),
        pytest.param(
            'smtp_host = "smtp.school.org"\nbackend = "file"\nfolder = "out"',
            False,
            id="file-backend",
        ),
    ],
)
def test_a_password_is_never_sent_unencrypted_unless_allowed(settings: str, refused: bool) -> None:
    text = toml(
        '[email]\nsecurity = "none"\nusername = "digest@school.org"\n'
        'password_env = "PLN_SMTP_PASSWORD"\n' + settings + "\n"
    )
    environ = {"PLN_SMTP_PASSWORD": SECRET_VALUE}
    if not refused:
        assert parse_config(text, "config.toml", environ).email.security == "none"
        return
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.toml", environ)
    host = settings.split('"')[1]
    assert format_problems(info.value) == [
        f'config.toml:2: email.security: "none" would send the SMTP password of '
        f'digest@school.org unencrypted to {host}: use "starttls" or "ssl", or set '
        "allow_plaintext_auth = true if the network to it is trusted"
    ]


def test_no_login_needs_no_encryption() -> None:
    config = parse_config(
        '[email]\nsecurity = "none"\nsmtp_host = "relay.school.org"\n', "c.toml", {}
    )
    assert (config.email.security, config.email.username) == ("none", "")


def test_a_public_url_too_long_for_its_unsubscribe_header_is_refused() -> None:
    found = only_problem(
        f"""
        [email]
        public_url = "https://school.org/{"p" * 490}"
        unsubscribe_secret_env = "PLN_UNSUBSCRIBE_SECRET"
        """,
        {"PLN_UNSUBSCRIBE_SECRET": "0123456789abcdef-test"},
    )
    assert found == "config.toml:2: email.public_url: must be at most 500 characters"


def test_max_per_host_is_read_and_kept_within_reason() -> None:
    assert parse_config("[fetch]\nmax_per_host = 2\n", "", {}).fetch.max_per_host == 2
    assert parse_config("", "", {}).fetch.max_per_host == 4
    assert only_problem("[fetch]\nmax_per_host = 0\n").startswith(
        "config.toml:2: fetch.max_per_host: must be"
    )


# --- [queue] ------------------------------------------------------------------


def test_no_queue_table_means_one_process() -> None:
    assert parse_config(RSS, "config.toml", {}).queue is None


def test_queue_password_comes_from_the_environment_and_never_shows() -> None:
    text = toml("""
        [queue]
        broker_url = "amqp://pln@rabbit.school.org:5672/pln"
        password_env = "PLN_BROKER_PASSWORD"
        lease_seconds = 30
        """)
    queue = parse_config(text, "config.toml", {"PLN_BROKER_PASSWORD": "p@ss/w:rd"}).queue
    assert queue is not None and queue.lease_seconds == 30
    assert queue.url() == "amqp://pln:p%40ss%2Fw%3Ard@rabbit.school.org:5672/pln"
    assert "p@ss" not in repr(queue) and "p@ss" not in queue.broker_url


def test_queue_problems_are_one_line_each() -> None:
    found = problems(
        """
        [queue]
        broker_url = "redis://:hunter2hunter2@cache.school.org:6379/0"
        password_env = "UNSET_VARIABLE"
        lease_seconds = 0
        task_queue = "has space"
        """
    )
    assert any("secrets are never written in the file" in line for line in found)
    assert any("UNSET_VARIABLE is not set" in line for line in found)
    assert any("lease_seconds: must be between 1 and 3600" in line for line in found)
    assert any("task_queue" in line for line in found)
    assert not any("hunter2" in line for line in found)
    assert "not a broker URL" in only_problem('[queue]\nbroker_url = "http://x/"\n')


def test_rabbitmq_default_account_may_be_written_as_its_manual_does() -> None:
    text = '[queue]\nbroker_url = "amqp://guest:guest@127.0.0.1:5672//"\n'
    queue = parse_config(text, "config.toml", {}).queue
    assert queue is not None and queue.url() == "amqp://guest:guest@127.0.0.1:5672//"

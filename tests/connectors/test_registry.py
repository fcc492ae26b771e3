"""The REGISTRY is the one list of source kinds.

A made-up network (`tests/connectors/fakenet/`: one sub-package) gets one
REGISTRY line and then works everywhere: the configuration accepts its kind
and checks its options, scheduling uses its default interval, `pln fetch`
stores its posts, a digest names its network by its label. And no module
outside `connectors/` names a kind.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from aggregator import load_config
from aggregator.app.checks import billed_reads
from aggregator.app.config import parse_config
from aggregator.app.credentials import credentials_of
from aggregator.app.wiring import build_app
from aggregator.config.load import format_problems
from aggregator.config.types import Config, TwitterConfig
from aggregator.domain.clock import utc_now
from aggregator.domain.errors import ConfigError
from aggregator.domain.secret import Secret
from aggregator.domain.source import SourceConfig
from aggregator.run.cli import output as cli_output
from aggregator.run.cli.commands import main
from connectors import REGISTRY, ConnectorSpec
from connectors.base import ConnectorContext
from tests.connectors.fakenet import options as fakenet

ROOT = Path(__file__).resolve().parent.parent.parent
KIND = "fakenet_channel"
CONNECTOR_MODULE = "tests.connectors.fakenet.connector"
INTERVAL = timedelta(minutes=42)
# next_attempt_at spreads sources by up to a tenth of their interval.
LATEST = INTERVAL * 1.1
RECIPIENT = "ana@school.org"


@pytest.fixture
def with_fakenet(monkeypatch: pytest.MonkeyPatch) -> ConnectorSpec:
    """The one line a new network adds to the REGISTRY."""
    spec = ConnectorSpec(
        KIND, fakenet.NETWORK, fakenet.OPTIONS, INTERVAL, f"{CONNECTOR_MODULE}:FakenetConnector"
    )
    monkeypatch.setitem(REGISTRY, KIND, spec)
    return spec


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`pln` logs to tmp_path; its handlers and level are undone after the test."""
    path = tmp_path / "log" / "pln.log"
    monkeypatch.setenv("PLN_LOG_FILE", str(path))
    monkeypatch.delenv("PLN_CONFIG", raising=False)
    level = logging.getLogger().level
    yield path
    cli_output.close_logging()
    logging.getLogger().setLevel(level)


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(toml(text), "config.toml", {})
    return format_problems(info.value)


FAKENET_SOURCE = """
    [[sources]]
    key = "teachers"
    kind = "fakenet_channel"
    name = "Teachers channel"
    channel = "#Teachers"
"""


# --- the configuration -------------------------------------------------------


def test_without_its_registry_line_the_kind_is_unknown() -> None:
    [message] = problems(FAKENET_SOURCE)
    assert message.startswith("config.toml:3: sources[1].kind: unknown kind 'fakenet_channel'")


def test_the_new_kind_loads_with_its_options_normalised(with_fakenet: ConnectorSpec) -> None:
    [source] = parse_config(toml(FAKENET_SOURCE), "config.toml", {}).sources
    assert (source.kind, source.option("channel")) == (KIND, "teachers")


def test_the_new_kinds_options_are_checked_with_their_lines(with_fakenet: ConnectorSpec) -> None:
    text = """
        [[sources]]
        key = "teachers"
        kind = "fakenet_channel"
        token_env = "FAKENET_TOKEN"

        [[sources]]
        key = "staff"
        kind = "fakenet_channel"
        channel = "staff room!"
        url = "https://fakenet.example/"

        [[sources]]
        key = "typo"
        kind = "fakenet_chanel"
    """
    assert problems(text) == [
        "config.toml:1: sources[1].channel: is required for a fakenet_channel source",
        "config.toml:4: sources[1].token_env: environment variable FAKENET_TOKEN is not set",
        "config.toml:9: sources[2].channel: must be a channel name, like teachers",
        "config.toml:10: sources[2].url: unknown key 'url' for a fakenet_channel source",
        "config.toml:14: sources[3].kind: unknown kind 'fakenet_chanel' "
        "(did you mean 'fakenet_channel'?); valid kinds: " + ", ".join(REGISTRY),
    ]


# --- the whole path ----------------------------------------------------------


def test_fetch_schedule_and_digest_of_a_new_network(
    with_fakenet: ConnectorSpec, db_url: str, tmp_path: Path, log_file: Path
) -> None:
    config_path = tmp_path / "config.toml"
    database = f'[database]\nurl = "{db_url}"\n\n'
    recipient = f'\n[[recipients]]\nemail = "{RECIPIENT}"\nfollow = ["teachers"]\n'
    config_path.write_text(database + toml(FAKENET_SOURCE) + recipient, encoding="utf-8")
    # The connector module is imported when a configuration uses the kind, not before.
    sys.modules.pop(CONNECTOR_MODULE, None)
    assert load_config(config_path).source("teachers") is not None
    assert CONNECTOR_MODULE not in sys.modules

    before = datetime.now(UTC)
    fetched = CliRunner().invoke(main, ["fetch", "--config", str(config_path)])
    after = datetime.now(UTC)
    assert fetched.exit_code == 0, fetched.output
    assert CONNECTOR_MODULE in sys.modules

    with build_app(load_config(config_path), connectors={}) as app:
        [status] = app.repo.source_statuses()
    assert (status.key, status.posts_stored, status.last_error) == ("teachers", 2, None)
    assert status.state.cursor == "teachers-1"
    assert status.next_attempt_at is not None
    assert before + INTERVAL <= status.next_attempt_at <= after + LATEST

    shown = CliRunner().invoke(
        main, ["digest", "--config", str(config_path), "--recipient", RECIPIENT]
    )
    assert shown.exit_code == 0, shown.output
    assert "Teachers channel · FakeNet · Teacher " in shown.output
    assert "Exit tickets that take two minutes" in shown.output


# --- what else reads the REGISTRY ----------------------------------------------


def test_every_line_builds_a_connector_of_its_kind() -> None:
    with requests.Session() as session:
        context = ConnectorContext(session, Config(), utc_now)
        for kind, spec in REGISTRY.items():
            assert spec.kind == kind
            assert spec.load()(context).kind == kind


def test_a_network_table_token_is_a_credential_of_its_sources_only() -> None:
    token = Secret("TWITTER_BEARER_TOKEN", "t0ken")
    config = Config(twitter=TwitterConfig(bearer_token=token))
    x_source = SourceConfig(key="edchat", kind="twitter_search", options=(("query", "#edchat"),))
    sky = SourceConfig(key="sky", kind="bluesky_search", options=(("handle_env", "BSKY_HANDLE"),))
    assert credentials_of(x_source, config) == ("TWITTER_BEARER_TOKEN",)
    assert credentials_of(sky, config) == ("BSKY_HANDLE",)


def test_billed_reads_are_estimated_for_the_kinds_that_bill(with_fakenet: ConnectorSpec) -> None:
    sources = [
        SourceConfig(key="x", kind="twitter_user", options=(("max_posts_per_day", "250"),)),
        SourceConfig(key="feed", kind="rss"),
        SourceConfig(key="teachers", kind=KIND),
    ]
    assert billed_reads(sources) == {"x": 7500}


# --- no other module names a kind ----------------------------------------------

# The shipped packages outside connectors/. The example configuration, the
# demo's configuration (*.toml), the README, tests/ and bench/ (which make up
# configurations and posts of given kinds) may name kinds.
CHECKED = ("aggregator", "digests", "templates")


def test_no_module_outside_connectors_names_a_kind() -> None:
    kinds = "|".join(re.escape(kind) for kind in sorted(REGISTRY, key=len, reverse=True))
    prefixes = "|".join({re.escape(kind.split("_")[0] + "_") for kind in REGISTRY if "_" in kind})
    named = re.compile(rf"""["']({kinds}|{prefixes})["']""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".j2")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if named.search(line)
    ]
    assert offenders == []


def test_listing_the_kinds_loads_no_network_sdk() -> None:
    """A feed-parsing worker imports connectors.rss: the SDKs stay unloaded."""
    code = (
        "import sys, connectors, connectors.rss.connector, aggregator.app.config\n"
        "loaded = [m for m in ('tweepy', 'facebook', 'connectors.twitter.connector') "
        "if m in sys.modules]\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"

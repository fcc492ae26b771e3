"""`pln` as a user meets it: what each command prints and how it exits.

HTTP goes to a loopback `FeedServer` (allowed by `[fetch] allow_private`),
the database is a SQLite file in `tmp_path`, and the log goes to a file in
`tmp_path` (PLN_LOG_FILE), never to the user's home.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner, Result

from aggregator.domain.source import FetchOutcome
from aggregator.run.cli import output as cli_output
from aggregator.run.cli.commands import main
from aggregator.run.demo.server import FeedServer, demo_feeds

SECRET = "tok-9f3Kq7-never-print-me"
RECIPIENT = "ana@school.example"
HTML_PAGE = b"<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>"


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The log goes to tmp_path; `pln`'s handlers and level are undone after each test."""
    path = tmp_path / "log" / "pln.log"
    monkeypatch.setenv("PLN_LOG_FILE", str(path))
    monkeypatch.delenv("PLN_CONFIG", raising=False)
    level = logging.getLogger().level
    yield path
    cli_output.close_logging()
    logging.getLogger().setLevel(level)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    """Two good feeds, an HTML page; any other path answers 404."""
    feeds = demo_feeds(datetime.now(UTC))
    routes = {
        "/good.rss": feeds["/feeds/cult-of-retrieval.rss"],
        "/other.atom": feeds["/feeds/ngss-notes.atom"],
        "/page.html": ("text/html; charset=utf-8", HTML_PAGE),
    }
    with FeedServer(routes) as running:
        yield running


def write_config(folder: Path, port: int, sources: dict[str, str], extra: str = "") -> Path:
    """A config with rss `sources` (key -> path on the server) and one recipient."""
    blocks = [
        '[database]\nurl = "sqlite:///pln.db"\n',
        f'[fetch]\nallow_private = ["127.0.0.1:{port}"]\n',
        extra,
    ]
    for key, path in sources.items():
        blocks.append(
            f'[[sources]]\nkey = "{key}"\nkind = "rss"\nurl = "http://127.0.0.1:{port}{path}"\n'
        )
    follow = ", ".join(f'"{key}"' for key in sources)
    blocks.append(
        f'[[recipients]]\nemail = "{RECIPIENT}"\nname = "Ana"\n'
        f'timezone = "America/Chicago"\nsend_at = "06:30"\nfollow = [{follow}]\n'
    )
    path = folder / "config.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, server: FeedServer) -> Path:
    """good and other work; missing answers 404; notafeed is an HTML page."""
    return write_config(
        tmp_path,
        server.port,
        {
            "good": "/good.rss",
            "other": "/other.atom",
            "missing": "/missing.rss",
            "notafeed": "/page.html",
        },
    )


def pln(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def rows(output: str) -> dict[str, list[str]]:
    """A rich table's body rows, keyed by their first cell."""
    found = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            found[cells[0]] = cells
    return found


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- pln check ---------------------------------------------------------------


def test_check_valid_config_prints_ok(config: Path) -> None:
    result = pln("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{config}: OK — 4 sources, 1 recipient"
    assert result.stderr == ""


def test_check_refuses_an_empty_configuration(tmp_path: Path) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("# nothing yet\n", encoding="utf-8")

    result = pln("check", "--config", str(empty))

    assert_one_line_error(result, "no [[sources]]: nothing would be fetched")


def test_check_notes_that_nobody_gets_a_digest_yet(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n',
        encoding="utf-8",
    )

    result = pln("check", "--config", str(config))

    assert result.exit_code == 0, result.output
    assert "note:" in result.stdout and "no [[recipients]] yet" in result.stdout
    assert "OK — 1 source, 0 recipients" in result.stdout


def test_check_lists_every_problem_with_its_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[fetch]\n"
        "timeout_seconds = -3\n"  # line 2
        "\n"
        "[[sources]]\n"
        'key = "blog"\n'
        'kind = "rss"\n'
        'url = "ftp://example.org/feed"\n'  # line 7
        "\n"
        "[[recipients]]\n"
        'email = "not-an-address"\n'  # line 10
        'follow = ["blog"]\n',
        encoding="utf-8",
    )
    result = pln("check", "--config", str(bad))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert [re.match(r"error: (.+?:\d+): ([\w\[\].]+): ", line).groups() for line in lines] == [
        (f"{bad}:2", "fetch.timeout_seconds"),
        (f"{bad}:7", "sources[1].url"),
        (f"{bad}:10", "recipients[1].email"),
    ]


def test_check_refuses_addresses_mail_cannot_be_sent_to(tmp_path: Path) -> None:
    """Addresses a mail header cannot carry are refused here, not by `pln send`."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[email]\nadmin = "IT <it..desk@school.org>"\n\n'  # line 2
        '[[recipients]]\nemail = "ana..smith@school.org"\n\n'  # line 5
        '[[recipients]]\nemail = "anä@school.org"\n\n'  # line 8
        '[[recipients]]\nemail = "ana\\"x@school.org"\n\n'  # line 11
        '[[recipients]]\nemail = "ana\\u0000@school.org"\n',  # line 14
        encoding="utf-8",
    )
    result = pln("check", "--config", str(bad))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {bad}:2: email.admin: the address has a dot at the start or end of the "
        "name, or two dots in a row",
        f"error: {bad}:5: recipients[1].email: cannot be sent to: the address has a dot at "
        "the start or end of the name, or two dots in a row",
        f"error: {bad}:8: recipients[2].email: cannot be sent to: the address contains 'ä', "
        "and only ASCII addresses can be sent to (write an international domain in its "
        "xn-- form)",
        f"error: {bad}:11: recipients[3].email: cannot be sent to: the address contains '\"' "
        "before the @, where only letters, digits, single dots and !#$%&'*+-/=?^_`{|}~ may "
        "appear",
        f"error: {bad}:14: recipients[4].email: cannot be sent to: the address contains a "
        "space or control character (U+0000)",
    ]


def test_check_refuses_a_line_break_in_the_admin_address_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[email]\nadmin = "it@school.org\\r\\nBcc: everyone@elsewhere.example"\n', encoding="utf-8"
    )
    assert_one_line_error(
        pln("check", "--config", str(bad)),
        f"{bad}:2: email.admin: must be one line: a line break would start another header",
    )


def test_check_refuses_a_password_sent_in_clear_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[email]\nsmtp_host = "smtp.school.org"\nsecurity = "none"\n'
        'username = "digest@school.org"\npassword_env = "PLN_SMTP_PASSWORD"\n',
        encoding="utf-8",
    )
    result = pln("check", "--config", str(bad), env={"PLN_SMTP_PASSWORD": SECRET})
    assert_one_line_error(
        result,
        f"{bad}:3: email.security:",
        "unencrypted to smtp.school.org",
        "allow_plaintext_auth",
    )
    assert SECRET not in result.output


def test_check_without_a_config_file_says_to_copy_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = pln("check")
    assert_one_line_error(result, "config.toml", "copy config.example.toml")


def test_pln_config_env_var_is_honoured(config: Path) -> None:
    result = pln("check", env={"PLN_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{config}: OK")


def test_check_online_says_which_source_works(tmp_path: Path, server: FeedServer) -> None:
    path = write_config(tmp_path, server.port, {"good": "/good.rss", "missing": "/gone.rss"})
    result = pln("check", "--online", "--config", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert "good: OK" in lines
    assert "missing: not found (404): check the URL" in lines
    assert not (tmp_path / "pln.db").exists()  # checking needs no database


# -- pln fetch ---------------------------------------------------------------


def test_fetch_reports_each_source_and_stores_the_good_ones(config: Path) -> None:
    result = pln("fetch", "--config", str(config))
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert set(table) == {"good", "other", "missing", "notafeed"}
    assert table["good"][1:4] == ["8", "0", "ok"]
    assert table["other"][1:4] == ["6", "0", "ok"]
    assert table["missing"][1:] == ["0", "0", "error", "not found (404): check the URL"]
    assert table["notafeed"][3:] == ["error", "not a feed (HTML page)"]
    assert "4 sources, 14 new posts, 2 failed" in result.stdout

    status = rows(pln("status", "--config", str(config)).stdout)
    assert status["good"][3] == "8" and status["other"][3] == "6"


def test_fetch_twice_stores_nothing_twice(config: Path) -> None:
    pln("fetch", "--config", str(config))
    again = pln("fetch", "--config", str(config))
    assert again.exit_code == 0, again.output
    table = rows(again.stdout)
    assert table["good"][1:4] == ["0", "0", "unchanged"]
    assert table["other"][1:4] == ["0", "0", "unchanged"]
    assert "4 sources, 0 new posts, 2 failed" in again.stdout
    status = rows(pln("status", "--config", str(config)).stdout)
    assert (status["good"][3], status["other"][3]) == ("8", "6")


def test_fetch_one_source(config: Path, server: FeedServer) -> None:
    before = server.status_counts().get(404, 0)
    result = pln("fetch", "--source", "good", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert set(rows(result.stdout)) == {"good"}
    assert "1 source, 8 new posts, 0 failed" in result.stdout
    assert server.status_counts().get(404, 0) == before  # "missing" was not asked for


def test_fetch_unknown_source_is_one_line(config: Path) -> None:
    assert_one_line_error(pln("fetch", "--source", "nope", "--config", str(config)), "nope")


def test_fetch_table_shows_messages_verbatim(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages quote what servers sent; brackets must print, not act as rich markup.
    message = "unexpected error: KeyError: '[/b]' in [bold]title[/bold]"
    monkeypatch.setattr(
        "aggregator.app.ingest.fetch_sources",
        lambda app, keys, progress: [FetchOutcome("good", error=message)],
    )
    result = pln("fetch", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert rows(result.stdout)["good"][4] == message


# -- pln status --------------------------------------------------------------


def test_status_after_fetch(config: Path) -> None:
    pln("fetch", "--config", str(config))
    result = pln("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    good, missing = table["good"], table["missing"]
    assert good[1:4] == ["rss", "yes", "8"] and good[4].endswith("ago") and good[-1] == ""
    assert missing[3] == "0" and missing[6] == "1"
    assert missing[-1] == "not found (404): check the URL"
    assert table[RECIPIENT] == [RECIPIENT, "never"]


def test_status_names_who_paused_their_digest(config: Path) -> None:
    from aggregator.app.config import load_config
    from aggregator.app.preferences import PreferenceForm, save_preferences
    from aggregator.app.wiring import build_app

    with build_app(load_config(config), connectors={}) as app:
        ana = app.config.recipient(RECIPIENT)
        assert ana is not None
        today = app.clock().date()
        pause = today + timedelta(days=7)
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        save_preferences(app, ana, PreferenceForm(days=days, paused_until=str(pause)), today)
    result = pln("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert f"{RECIPIENT}: paused until {pause}" in result.stdout


# -- pln digest --------------------------------------------------------------


@pytest.fixture
def fetched(config: Path) -> Path:
    assert pln("fetch", "--config", str(config)).exit_code == 0
    return config


def test_digest_text(fetched: Path) -> None:
    result = pln("digest", "--recipient", RECIPIENT, "--config", str(fetched))
    assert result.exit_code == 0, result.output
    assert "Good morning, Ana." in result.stdout
    assert "https://retrievalroom.example/posts/brain-dumps-that-work/" in result.stdout


def test_digest_html_to_a_file(fetched: Path, tmp_path: Path) -> None:
    out = tmp_path / "ana.html"
    result = pln(
        "digest",
        "--recipient",
        RECIPIENT,
        "--format",
        "html",
        "--out",
        str(out),
        "--config",
        str(fetched),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Wrote {out}"
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert 'href="https://retrievalroom.example/posts/brain-dumps-that-work/"' in html


def test_digest_to_a_folder_that_does_not_exist(fetched: Path, tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "ana.html"
    result = pln("digest", "--recipient", RECIPIENT, "--out", str(out), "--config", str(fetched))
    assert_one_line_error(result, "No such file or directory", str(out))
    assert "unexpected" not in result.stderr  # the user's to fix, not a bug


def test_digest_unknown_recipient(config: Path) -> None:
    result = pln("digest", "--recipient", "bob@school.example", "--config", str(config))
    assert_one_line_error(result, "bob@school.example")


def test_digest_on_a_date(fetched: Path) -> None:
    result = pln(
        "digest", "--recipient", RECIPIENT, "--date", "2026-11-30", "--config", str(fetched)
    )
    assert result.exit_code == 0, result.output
    assert "30 Nov" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("day", ["0001-01-01", "1969-12-31", "9999-12-31"])
def test_digest_on_a_day_out_of_range_is_one_line(fetched: Path, day: str) -> None:
    result = pln("digest", "--recipient", RECIPIENT, "--date", day, "--config", str(fetched))
    assert_one_line_error(
        result, f"no digest can be built for {day}: give a day from 1970-01-01 to 9999-12-30"
    )


@pytest.mark.parametrize("day", ["1970-01-01", "9999-12-30"])
@pytest.mark.parametrize("explain", [[], ["--explain"]])
def test_digest_on_the_first_and_last_day_in_range(
    fetched: Path, day: str, explain: list[str]
) -> None:
    result = pln(
        "digest", "--recipient", RECIPIENT, "--date", day, *explain, "--config", str(fetched)
    )
    assert result.exit_code == 0, result.output


def test_digest_bad_date_is_a_usage_error(config: Path) -> None:
    result = pln(
        "digest", "--recipient", RECIPIENT, "--date", "30/11/2026", "--config", str(config)
    )
    assert result.exit_code == 2
    assert "--date" in result.stderr and "Traceback" not in result.output


# -- pln demo (the CI end-to-end run) -----------------------------------------


def test_demo_writes_both_digests(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = pln("demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    html_path, text_path = out / "digest.html", out / "digest.txt"
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"HTML digest: {html_path}", f"Text digest: {text_path}"]
    assert re.match(r"Fetched \d+ posts from 7 of 7 feeds; Ana's digest has \d+ stories", lines[2])
    html = html_path.read_text(encoding="utf-8")
    links = set(re.findall(r'href="(https://[^"]+)"', html))
    assert len(links) >= 5
    assert "<script" not in html.lower()
    assert "Good morning, Ana." in text_path.read_text(encoding="utf-8")


def test_demo_into_a_relative_folder_then_status_on_its_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = pln("demo", "--out", "demo")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "pln.db").exists() and not (tmp_path / "demo" / "demo").exists()
    config = tmp_path / "demo" / "config.toml"
    assert f"pln status --config {config}" in result.stdout

    status = pln("status", "--config", "demo/config.toml")

    assert status.exit_code == 0, status.output
    assert rows(status.stdout)["cult-of-retrieval"][3] == "8"  # posts stored by the demo


def test_demo_writes_its_configuration_where_config_says_and_never_over_another(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine.toml"
    result = pln("demo", "--out", str(tmp_path / "demo"), "--config", str(mine))
    assert result.exit_code == 0, result.output
    assert mine.read_text(encoding="utf-8").startswith("# Configuration used by `pln demo`")
    assert pln("demo", "--out", str(tmp_path / "demo"), "--config", str(mine)).exit_code == 0

    real = tmp_path / "config.toml"
    real.write_text('[database]\nurl = "sqlite:///school.db"\n', encoding="utf-8")
    refused = pln("demo", "--out", str(tmp_path / "again"), "--config", str(real))

    assert_one_line_error(refused, f"{real} exists and is not a demo configuration")
    assert real.read_text(encoding="utf-8").startswith("[database]")


# -- errors ------------------------------------------------------------------


def _broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("kaboom\nsecond line of the message")


def test_unexpected_error_points_to_the_log(
    config: Path, log_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aggregator.app.ingest.fetch_sources", _broken)
    result = pln("fetch", "--config", str(config))
    assert_one_line_error(result, "RuntimeError: kaboom", str(log_file))
    log = log_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: kaboom" in log


def test_unwritable_log_file_still_no_traceback(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("PLN_LOG_FILE", str(tmp_path / "a-file" / "pln.log"))
    monkeypatch.setattr("aggregator.app.ingest.fetch_sources", _broken)
    result = pln("fetch", "--config", str(config))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    first, *_, last = result.stderr.splitlines()
    assert "cannot write the log file" in first and "a-file" in first
    assert last == "error: unexpected RuntimeError: kaboom (run again with --verbose for details)"


@pytest.mark.parametrize("command", ["status", "fetch", "digest --recipient ana@school.example"])
def test_database_that_cannot_be_opened(tmp_path: Path, command: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:////nonexistent-dir/x.db"\n'
        '[[recipients]]\nemail = "ana@school.example"\n',
        encoding="utf-8",
    )
    result = pln(*command.split(), "--config", str(path))
    assert_one_line_error(result, "cannot open database", "sqlite:////nonexistent-dir/x.db")


def test_logging_is_set_up_once_per_run(config: Path, log_file: Path) -> None:
    for _ in range(3):
        result = pln("--verbose", "fetch", "--source", "good", "--config", str(config))
        assert result.exit_code == 0, result.output
        # --verbose: each log line once on stderr, whatever ran before.
        assert len(re.findall(r"good: \d+ new", result.stderr)) == 1
    assert len(re.findall(r"good: \d+ new", log_file.read_text(encoding="utf-8"))) == 3
    named = [h for h in logging.getLogger().handlers if h.get_name() == "pln-digest"]
    assert len(named) == 2  # the log file and --verbose's stderr


def test_no_secret_value_in_any_output(
    tmp_path: Path, server: FeedServer, log_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLN_TEST_TWITTER_TOKEN", SECRET)
    path = write_config(
        tmp_path,
        server.port,
        {"good": "/good.rss"},
        extra='[twitter]\nbearer_token_env = "PLN_TEST_TWITTER_TOKEN"\n',
    )
    with path.open("a", encoding="utf-8") as file:
        file.write(
            '\n[[sources]]\nkey = "edchat"\nkind = "twitter_search"\n'
            'query = "#edchat -is:retweet"\n'
        )
    outputs = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as x_api:
        x_api.add_passthru(server.base_url)
        x_api.add(
            responses.GET,
            re.compile(r"https://api\.twitter\.com/2/.*"),
            status=401,
            json={
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
        )
        for command in (
            ["check"],
            ["check", "--online"],
            ["fetch"],
            ["fetch", "--source", "edchat"],
            ["status"],
            ["digest", "--recipient", RECIPIENT],
        ):
            result = pln("--verbose", *command, "--config", str(path))
            assert "Traceback" not in result.output
            outputs.append(result.output)
        sent = [call.request.headers.get("Authorization", "") for call in x_api.calls]
    assert sent and all(header == f"Bearer {SECRET}" for header in sent)  # really used
    assert "401" in outputs[2] and "edchat" in outputs[-2]
    assert "edchat: at most 3,000 X reads a month" in outputs[0]  # the default 100 a day
    assert SECRET not in "\n".join(outputs)
    assert SECRET not in log_file.read_text(encoding="utf-8")


# -- a real process ----------------------------------------------------------


def _pln_command() -> list[str]:
    script = Path(sys.executable).with_name("pln")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from aggregator.run.cli.commands import main; main()"]


def _run(argv: list[str], tmp_path: Path, log_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLN_LOG_FILE": str(log_file)}
    env.pop("PLN_CONFIG", None)
    return subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_real_process_errors_are_one_line(tmp_path: Path, log_file: Path) -> None:
    (tmp_path / "nodb.toml").write_text(
        '[database]\nurl = "sqlite:////nonexistent-dir/x.db"\n', encoding="utf-8"
    )
    for args, expected in (
        (["check"], "copy config.example.toml"),
        (["status", "--config", "nodb.toml"], "cannot open database"),
    ):
        done = _run(_pln_command() + args, tmp_path, log_file)
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and expected in done.stderr
        assert "Traceback" not in done.stderr


def test_real_process_unexpected_error_is_one_line(
    tmp_path: Path, config: Path, log_file: Path
) -> None:
    code = (
        "import aggregator.app.ingest as ingest\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('kaboom')\n"
        "ingest.fetch_sources = broken\n"
        "from aggregator.run.cli.commands import main\n"
        "main()\n"
    )
    done = _run([sys.executable, "-c", code, "fetch", "--config", str(config)], tmp_path, log_file)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "unexpected RuntimeError: kaboom" in done.stderr and str(log_file) in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Traceback (most recent call last)" in log_file.read_text(encoding="utf-8")


def test_resend_refuses_a_digest_that_is_not_of_unknown_fate(config: Path) -> None:
    result = pln(
        "resend", "--recipient", RECIPIENT, "--date", "2026-11-30", "--config", str(config)
    )
    assert_one_line_error(result, RECIPIENT, "no digest of unknown fate for 2026-11-30")

"""`pln admin create`, `pln serve` and `pln run` serving the pages, as users run them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import pytest
from click.testing import CliRunner, Result

from aggregator.run.cli import output as cli_output
from aggregator.run.cli.commands import main
from tests.smtp_server import free_port
from tests.web.conftest import SECRET, sign_in, write_web_config

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The log goes to tmp_path; `pln`'s handlers and level are undone after each test."""
    path = tmp_path / "log" / "pln.log"
    monkeypatch.setenv("PLN_LOG_FILE", str(path))
    monkeypatch.delenv("PLN_CONFIG", raising=False)
    monkeypatch.delenv("PLN_ADMIN_PASSWORD", raising=False)
    level = logging.getLogger().level
    yield path
    cli_output.close_logging()
    logging.getLogger().setLevel(level)


def pln(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- pln admin create ------------------------------------------------------------


def signs_in(config: Path, email: str, password: str) -> bool:
    from aggregator.run.web.app import create_app

    app = create_app(config, connectors={}, sleep=lambda s: None)
    try:
        return sign_in(app.test_client(), email, password).status_code == 302
    finally:
        app.extensions["pln_state"].close()


def test_admin_create_from_the_environment_then_reset(web_config: Path) -> None:
    env = {"PLN_ADMIN_PASSWORD": PASSWORD}
    first = pln("admin", "create", "--config", str(web_config), "Head@School.org", env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout == "head@school.org: admin created\n"
    assert PASSWORD not in first.output
    assert signs_in(web_config, "head@school.org", PASSWORD)

    env = {"PLN_ADMIN_PASSWORD": "another long password"}
    again = pln("admin", "create", "--config", str(web_config), "head@school.org", env=env)
    assert again.stdout == "head@school.org: password changed; signed out everywhere\n"
    assert not signs_in(web_config, "head@school.org", PASSWORD)
    assert signs_in(web_config, "head@school.org", "another long password")


def test_admin_create_asks_twice_on_the_terminal(web_config: Path) -> None:
    typed = f"{PASSWORD}\nmistyped password\n{PASSWORD}\n{PASSWORD}\n"
    result = pln("admin", "create", "--config", str(web_config), "it@school.org", input=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output  # click's confirmation asked again
    assert PASSWORD not in result.output
    assert signs_in(web_config, "it@school.org", PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "fragment"),
    [
        ("it@school.org", "short", "at least 10 characters"),
        ("not an address", PASSWORD, "'not an address'"),
    ],
)
def test_admin_create_refuses_bad_input_in_one_line(
    web_config: Path, email: str, password: str, fragment: str
) -> None:
    env = {"PLN_ADMIN_PASSWORD": password}
    result = pln("admin", "create", "--config", str(web_config), email, env=env)
    assert_one_line_error(result, fragment)


# -- pln serve errors --------------------------------------------------------------


def test_serve_without_a_secret_names_the_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLN_WEB_SECRET", raising=False)
    config = write_web_config(tmp_path)  # secret_env = "PLN_WEB_SECRET", variable unset
    assert_one_line_error(
        pln("serve", "--config", str(config)), "PLN_WEB_SECRET", "[web] secret_env"
    )


def test_serve_without_secret_env_says_to_set_it(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    config.write_text(config.read_text().replace('secret_env = "PLN_WEB_SECRET"', ""))
    assert_one_line_error(
        pln("serve", "--config", str(config)), '[web] secret_env = "PLN_WEB_SECRET"'
    )


def test_serve_refuses_a_bad_listen_address(web_config: Path) -> None:
    result = pln("serve", "--config", str(web_config), "--listen", "localhost")
    assert_one_line_error(result, "--listen", "HOST:PORT")


def test_serve_refuses_a_port_already_taken(web_config: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = pln("serve", "--config", str(web_config), "--listen", f"127.0.0.1:{port}")
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


# -- as real processes ------------------------------------------------------------


def start(*args: str, tmp: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PLN_LOG_FILE=str(tmp / "pln.log"))
    env["PLN_WEB_SECRET"] = SECRET
    code = "from aggregator.run.cli.commands import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_health(url: str, process: subprocess.Popen[str], timeout_s: float = 20) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                return int(response.status)
        except URLError:
            time.sleep(0.1)
    raise AssertionError("the server never answered")


def stop(process: subprocess.Popen[str]) -> tuple[int, str, float]:
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process.returncode, out + err, time.monotonic() - started


def test_serve_answers_until_sigterm(web_config: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start(
        "serve", "--config", str(web_config), "--listen", f"127.0.0.1:{port}", tmp=tmp_path
    )
    assert wait_for_health(f"http://127.0.0.1:{port}", process) == 200
    status, output, took = stop(process)
    assert status == 0, output
    assert f"Serving on http://127.0.0.1:{port}" in output
    assert took < 10


def test_run_serves_the_pages_beside_the_service_when_listen_is_set(tmp_path: Path) -> None:
    port = free_port()
    config = write_web_config(tmp_path, web=f'listen = "127.0.0.1:{port}"')
    process = start("run", "--config", str(config), tmp=tmp_path)
    assert wait_for_health(f"http://127.0.0.1:{port}", process) == 200
    status, output, took = stop(process)
    assert status == 0, output
    assert took < 15
    with pytest.raises(URLError):  # the pages stopped with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)

"""A real deployment of PLN Digest on this machine, for the worker tests: a
feed server and an SMTP server on loopback, `pln run` and `pln worker`
processes, PostgreSQL and a broker (Redis or RabbitMQ)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).parent.parent
REDIS = ("127.0.0.1", 6379)
RABBITMQ = ("127.0.0.1", 5672)
# Redis databases 5-9 are this suite's (other suites on the machine use 0-4);
# PLN_TEST_REDIS_DB moves it when several runs share one Redis.
REDIS_DB = int(os.environ.get("PLN_TEST_REDIS_DB", "5"))


def listening(address: tuple[str, int]) -> bool:
    """Whether a server accepts connections at `address`."""
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def feed(key: str, items: int) -> bytes:
    """An RSS feed of `items` posts, the newest an hour old."""
    at = datetime.now(UTC) - timedelta(hours=items + 1)
    entries = "".join(
        f"<item><guid>{key}-{n}</guid><title>Idea {n} from {key}</title>"
        f"<link>https://{key}.example/{n}</link><description>Text {n}</description>"
        f"<pubDate>{format_datetime(at + timedelta(hours=n), usegmt=True)}</pubDate></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{key}</title>'
        f"<link>https://{key}.example/</link>{entries}</channel></rss>"
    ).encode()


@dataclass
class Deployment:
    """Where everything of one test deployment is."""

    tmp: Path
    database_url: str
    broker_url: str
    feeds_url: str
    feeds_port: int
    smtp_port: int
    sources: int
    recipients: int
    lease_seconds: int = 2
    requeue_seconds: int = 5
    task_queue: str = "pln_test_workers"
    poisoned: bool = False
    """Add a source "poison" (at /poison.rss) whose feed no parser makes sense of."""
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def emails(self) -> list[str]:
        """The recipients' addresses."""
        return [f"teacher{n}@school.example" for n in range(self.recipients)]

    def write_config(self) -> Path:
        """Every recipient's digest due now (a minute ago, local midday)."""
        now = datetime.now(UTC)
        offset = now.hour - 12  # Etc/GMT+N is N hours behind UTC: local time is about 12:xx
        zone = f"Etc/GMT{offset:+d}" if offset else "Etc/GMT"
        send_at = (now - timedelta(hours=offset, minutes=1)).strftime("%H:%M")
        urls = {f"feed-{n}": f"{self.feeds_url}/{n}.rss" for n in range(self.sources)}
        if self.poisoned:
            urls["poison"] = f"{self.feeds_url}/poison.rss"
        keys = list(urls)
        sources = "".join(
            f'[[sources]]\nkey = "{k}"\nkind = "rss"\nurl = "{url}"\n\n' for k, url in urls.items()
        )
        follow = "[" + ", ".join(f'"{k}"' for k in keys) + "]"
        recipients = "".join(
            f'[[recipients]]\nemail = "{e}"\ntimezone = "{zone}"\nsend_at = "{send_at}"\n'
            f"follow = {follow}\n\n"
            for e in self.emails
        )
        path = self.tmp / "pln.toml"
        path.write_text(
            f'[database]\nurl = "{self.database_url}"\n\n'
            f'[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {self.smtp_port}\nsecurity = "none"\n'
            'from = "PLN Digest <digest@school.example>"\n\n'
            f'[fetch]\ntimeout_seconds = 5\nallow_private = ["127.0.0.1:{self.feeds_port}"]\n\n'
            f'[queue]\nbroker_url = "{self.broker_url}"\nlease_seconds = {self.lease_seconds}\n'
            f"tick_seconds = 1\nrequeue_seconds = {self.requeue_seconds}\n"
            f'task_queue = "{self.task_queue}"\n\n{sources}{recipients}',
            encoding="utf-8",
        )
        return path

    def start(self, *args: str, name: str) -> subprocess.Popen[str]:
        """`pln ARGS --config ...` in a session of its own (killed as a group)."""
        script = Path(sys.executable).with_name("pln")
        env = dict(os.environ, PYTHONPATH=str(ROOT), PLN_LOG_FILE=str(self.tmp / f"{name}.log"))
        with (self.tmp / f"{name}.err").open("w", encoding="utf-8") as err:
            process = subprocess.Popen(
                [str(script), *args, "--config", str(self.tmp / "pln.toml")],
                env=env,
                text=True,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def errors(self) -> str:
        """What the processes wrote to stderr."""
        return "".join(p.read_text(encoding="utf-8") for p in sorted(self.tmp.glob("*.err")))

    def stop_all(self) -> None:
        """SIGKILL every process still running (and its pool processes)."""
        for process in self.processes:
            if process.poll() is None:
                kill_group(process)

    def count(self, sql: str) -> int:
        """One number from the database (0 before the schema exists)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(sql)).scalar_one())
        except sa.exc.ProgrammingError:
            return 0
        finally:
            engine.dispose()


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL a process and every process of its session: a machine that died."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def owner_of_client_port(port: int) -> int | None:
    """The pid of the process whose TCP socket has local port `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                return int(fd.parts[2])
        except OSError:
            continue
    return None


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll `check` until true; returns the seconds it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - start


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[str]]:
    """A Redis of this test's own on `port` (keeps nothing on disk)."""
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until(lambda: listening(("127.0.0.1", port)), 10, "redis-server")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)

"""Politeness and budgets that hold for the whole fleet: per-host slots, X read
budgets and login limits, in one process and, through the real Redis, across
processes (one of them killed mid-request)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aggregator.app.fleet_limits import PREFIX, redis_limits
from aggregator.config.types import Config, FetchConfig, TwitterConfig
from aggregator.domain.errors import RateLimited
from aggregator.domain.secret import Secret
from aggregator.domain.source import FetchState, SourceConfig
from connectors.base import ConnectorContext
from connectors.http.fetch import fetch_url
from connectors.http.guard import make_session
from connectors.limits import HostBusy, HostSlots, Limits, local_limits
from connectors.twitter.connector import TwitterSearchConnector
from connectors.twitter.cursor import XCursor
from tests.http_fixtures import load_interaction

REDIS_URL = os.environ.get("PLN_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
NOW = datetime(2021, 9, 22, 17, 0, tzinfo=UTC)
SEARCH = "https://api.twitter.com/2/tweets/search/recent"
PER_HOST = 3


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # no module, no server: either way the tests skip
        return False


needs_redis = pytest.mark.needs_server(_redis_up(), f"no Redis at {REDIS_URL}")


class _Counting(BaseHTTPRequestHandler):
    """Answers after a pause, counting how many requests it serves at once."""

    lock = threading.Lock()
    now = 0
    most = 0
    served = 0

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.now += 1
            cls.most = max(cls.most, cls.now)
        time.sleep(0.05)
        with cls.lock:
            cls.now -= 1
            cls.served += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/feed"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def counting(server: str) -> str:
    _Counting.now = _Counting.most = _Counting.served = 0
    return server


@pytest.fixture
def flushed() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)
    client.close()
    return REDIS_URL


def _hammer(url: str, slots: HostSlots, threads: int, each: int) -> None:
    """`threads` threads, each fetching `url` `each` times through one session:
    half stream the body (fetch_url), half let requests read it."""
    session = make_session("PLN-Digest/test", slots)

    def streamed() -> None:
        for _ in range(each):
            fetch_url(
                session,
                url,
                timeout_s=5,
                max_bytes=1000,
                max_redirects=0,
                allow_private=["127.0.0.1"],
                headers=None,
                source_key="t",
            )

    def read_at_once() -> None:
        from connectors.http.guard import ADDRESS_POLICY, AddressPolicy

        ADDRESS_POLICY.set(AddressPolicy.parse(["127.0.0.1"]))
        for _ in range(each):
            assert session.get(url, timeout=5).content == b"ok"

    with ThreadPoolExecutor(threads) as pool:
        jobs = [pool.submit(streamed if n % 2 else read_at_once) for n in range(threads)]
        for job in jobs:
            job.result()
    session.close()


def _hammer_through_redis(url: str, redis_url: str) -> None:
    _hammer(url, redis_limits(redis_url, PER_HOST, 30).hosts, threads=6, each=4)


def test_one_process_never_has_more_than_max_per_host_requests_at_once(counting: str) -> None:
    _hammer(counting, local_limits(PER_HOST).hosts, threads=8, each=3)
    assert _Counting.served == 24
    assert _Counting.most == PER_HOST  # reached, never passed


@needs_redis
def test_two_processes_share_the_per_host_limit(counting: str, flushed: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_hammer_through_redis, args=(counting, flushed)) for _ in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert _Counting.served == 48
    assert _Counting.most == PER_HOST  # 12 threads in two processes, 3 at a time


def _hold_slots_then_hang(redis_url: str, ready: Any) -> None:
    slots = redis_limits(redis_url, PER_HOST, 1.5).hosts
    for _ in range(PER_HOST):
        slots.acquire("feeds.example.org", 1)
    ready.set()
    time.sleep(60)  # killed before it would give them back


@needs_redis
def test_the_slots_of_a_killed_worker_come_back_when_their_hold_expires(flushed: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    worker = spawn.Process(target=_hold_slots_then_hang, args=(flushed, ready))
    worker.start()
    assert ready.wait(30)
    worker.kill()
    worker.join(10)
    slots = redis_limits(flushed, PER_HOST, 30).hosts
    with pytest.raises(HostBusy):
        slots.acquire("feeds.example.org", 0)
    started = time.monotonic()
    release = slots.acquire("feeds.example.org", 10)
    assert time.monotonic() - started < 3
    release()
    slots.acquire("other.example.org", 0)()  # other hosts were never held


# --- X read budget -----------------------------------------------------------------


def _x_source(budget: int) -> SourceConfig:
    options = (("max_posts_per_day", str(budget)), ("query", "#brexit"))
    return SourceConfig(key="x-src", kind="twitter_search", options=options)


def _x_context(limits: Limits) -> ConnectorContext:
    secret = Secret("TWITTER_BEARER_TOKEN", "AAAA-fake-X-bearer-DO-NOT-LEAK")
    config = Config(twitter=TwitterConfig(bearer_token=secret), fetch=FetchConfig())
    return ConnectorContext(make_session("PLN-Digest/test"), config, lambda: NOW, limits=limits)


def _page_of_the_size_asked(request: Any) -> tuple[int, dict[str, str], str]:
    """The recorded page cut to `max_results` tweets (and at most two included
    tweets each), as X answers: X bills every post a page returns."""
    size = int(parse_qs(urlsplit(request.url).query)["max_results"][0])
    page = load_interaction("twitter/twarc-csv/brexit.page.json")["response"]["json"]
    page["data"] = page["data"][:size]
    includes = page.get("includes", {})
    includes["tweets"] = includes.get("tweets", [])[: 2 * size]
    return 200, {"content-type": "application/json"}, json.dumps(page)


def _read_x_until_refused(limits: Limits, budget: int) -> int:
    """Fetch the source afresh (no cursor: this process never learns what the
    other spent) until X's budget refuses; the reads this process spent."""
    spent = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, SEARCH, callback=_page_of_the_size_asked)
        connector = TwitterSearchConnector(_x_context(limits))
        for _ in range(20):
            try:
                result = connector.fetch(_x_source(budget), FetchState())
            except RateLimited:
                return spent
            spent += XCursor.parse(result.cursor).reads_on(NOW)
    return spent


def _read_x_through_redis(redis_url: str, budget: int, spent: Queue[int]) -> None:
    spent.put(_read_x_until_refused(redis_limits(redis_url, PER_HOST, 30), budget))


def test_one_process_keeps_to_the_budget_even_without_the_cursor() -> None:
    spent = _read_x_until_refused(local_limits(), 1000)
    assert 1000 - 3 * 100 < spent <= 1000


@needs_redis
def test_two_processes_share_one_x_read_budget(flushed: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    spent: Queue[int] = spawn.Queue()
    workers = [
        spawn.Process(target=_read_x_through_redis, args=(flushed, 1000, spent)) for _ in "ab"
    ]
    for worker in workers:
        worker.start()
    totals = [spent.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert sum(totals) <= 1000  # each alone would have read up to 1000
    assert sum(totals) > 1000 - 3 * 100  # and together they used what there was


@needs_redis
def test_a_budget_outlives_a_lost_count_through_the_cursor(flushed: str) -> None:
    budgets = redis_limits(flushed, PER_HOST, 30).budgets
    assert budgets.take("x:k:2021-09-22", most=300, least=30, limit=1000, floor=900) == 100
    assert budgets.take("x:k:2021-09-22", most=300, least=30, limit=1000, floor=0) == 0
    budgets.give_back("x:k:2021-09-22", 40)
    assert budgets.spent("x:k:2021-09-22") == 960


# --- login limits ------------------------------------------------------------------


@needs_redis
def test_logins_are_counted_and_held_back_for_every_process(flushed: str) -> None:
    first, second = (redis_limits(flushed, PER_HOST, 30).logins for _ in "ab")
    for n in range(10):
        assert (first if n % 2 else second).admit("bluesky:teacher.bsky.social", NOW) is None
    held = first.admit("bluesky:teacher.bsky.social", NOW + timedelta(minutes=5))
    assert held is not None and held.until == NOW + timedelta(hours=1)
    assert "10 logins an hour" in held.reason
    assert second.admit("bluesky:other.bsky.social", NOW) is None  # per account
    until = NOW + timedelta(hours=3)
    second.hold_back("bluesky:other.bsky.social", until, "Bluesky login limit reached (429)")
    wait = first.admit("bluesky:other.bsky.social", NOW)
    assert wait is not None and wait.until == until and "(429)" in wait.reason


def test_one_process_counts_logins_the_same_way() -> None:
    logins = local_limits().logins
    for _ in range(10):
        assert logins.admit("bluesky:teacher.bsky.social", NOW) is None
    held = logins.admit("bluesky:teacher.bsky.social", NOW)
    assert held is not None and held.until == NOW + timedelta(hours=1)
    assert logins.admit("bluesky:teacher.bsky.social", NOW + timedelta(hours=1, seconds=1)) is None


@needs_redis
def test_with_a_queue_every_process_built_from_the_config_shares_the_limits(flushed: str) -> None:
    from aggregator.app.wiring import build_limits
    from aggregator.config.types import QueueConfig

    config = Config(queue=QueueConfig(broker_url=flushed))
    first, second = build_limits(config), build_limits(config)  # as two workers would
    assert first.budgets.take("x:k:2021-09-22", most=300, least=30, limit=400, floor=0) == 300
    assert second.budgets.take("x:k:2021-09-22", most=300, least=30, limit=400, floor=0) == 100
    held = [first.hosts.acquire("feeds.example.org", 1) for _ in range(4)]  # max_per_host 4
    with pytest.raises(HostBusy):
        second.hosts.acquire("feeds.example.org", 0)
    for release in held:
        release()
    # Without a queue, each process counts for itself, as before.
    alone = build_limits(Config())
    assert alone.budgets.take("x:k:2021-09-22", most=300, least=30, limit=400, floor=0) == 300

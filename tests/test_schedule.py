"""The metronome of `pln run`, ticked by hand with a fixed clock.

Fetches run on their own thread (joined before the clock moves, so each
tick is deterministic); sends go through the real `send_due_digests` into a
mailer that records messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from aggregator.app.ingest import refresh_stale_sources
from aggregator.app.wiring import App, build_app
from aggregator.config.schedule import ScheduleConfig
from aggregator.config.types import Config
from aggregator.domain.errors import FetchError, RateLimited
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from aggregator.run.metronome import Metronome, TickReport, build_scheduler, next_digests
from aggregator.run.service import HealthEmailer, Sender
from tests.fakes import T0, FakeConnector, FixedClock, make_config, make_post


@dataclass
class RecordingMailer:
    """A `aggregator.app.mailer.Mailer` that keeps what it is given."""

    messages: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage, on_commit: Callable[[], None]) -> None:
        on_commit()
        self.messages.append(message)

    def close(self) -> None:
        pass

    def to(self) -> list[str]:
        return [str(m["To"].addresses[0].addr_spec) for m in self.messages]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


def metronome_for(
    config: Config, clock: FixedClock, connector: FakeConnector, mailer: RecordingMailer
) -> Metronome:
    app = build_app(config, clock, {"rss": connector})
    return Metronome(app, Sender(mailer), hooks=[HealthEmailer(mailer)])


@pytest.fixture
def closing() -> Iterator[list[Metronome]]:
    made: list[Metronome] = []
    yield made
    for metronome in made:
        metronome.close(timeout=5)


def tick(metronome: Metronome) -> TickReport:
    """One tick, its fetch run finished before the test moves the clock."""
    report = metronome.tick()
    assert metronome.wait_for_fetch(timeout=10)
    return report


def calls(connector: FakeConnector, key: str) -> int:
    return [k for k, _ in connector.calls].count(key)


# --- fetch intervals -------------------------------------------------------------


def test_each_kind_has_its_default_interval_and_a_source_can_override_it(tmp_path, clock) -> None:
    sources = (
        SourceConfig("x", "twitter_search", options=(("query", "#edchat"),)),
        SourceConfig("inbox", "email_inbox"),
        SourceConfig("blog", "rss", interval_minutes=15),
    )
    config = Config(
        path="t.toml",
        database=make_config(f"sqlite:///{tmp_path}/p.db", []).database,
        sources=sources,
    )
    fake = FakeConnector(script={k: [FetchResult()] for k in ("x", "inbox", "blog")})
    with build_app(
        config, clock, {"twitter_search": fake, "email_inbox": fake, "rss": fake}
    ) as app:
        metronome = Metronome(app, lambda app: [])
        tick(metronome)
        waits = {s.key: s.next_attempt_at - T0 for s in app.repo.source_statuses()}
    # Up to 10% jitter spreads sources sharing an interval.
    assert timedelta(minutes=240) <= waits["x"] <= timedelta(minutes=264)  # X bills each read
    assert timedelta(minutes=15) <= waits["inbox"] <= timedelta(minutes=16.5)
    assert timedelta(minutes=15) <= waits["blog"] <= timedelta(minutes=16.5)


# --- back-off and rate limits through the metronome ---------------------------------


def test_failures_back_off_and_a_rate_limit_postpones_to_when_the_network_says(
    tmp_path, clock, mailer, closing
) -> None:
    connector = FakeConnector(
        script={
            "flaky": [FetchError("flaky", "timed out")],
            "busy": [
                RateLimited("busy", "rate limited (429)", retry_after=T0 + timedelta(minutes=42)),
                FetchResult(posts=(make_post("busy", 1),)),
            ],
        }
    )
    metronome = metronome_for(
        make_config(f"sqlite:///{tmp_path}/p.db", ["flaky", "busy"]), clock, connector, mailer
    )
    closing.append(metronome)
    attempts: dict[str, list[int]] = {"flaky": [], "busy": []}
    for minute in range(50):
        before = {k: calls(connector, k) for k in attempts}
        tick(metronome)
        for key in attempts:
            if calls(connector, key) > before[key]:
                attempts[key].append(minute)
        clock.advance(minutes=1)
    assert attempts["flaky"] == [0, 5, 15, 35]  # 5, 10, 20 minutes apart
    assert attempts["busy"] == [0, 42]
    statuses = {s.key: s for s in metronome.app.repo.source_statuses()}
    assert statuses["busy"].posts_stored == 1 and statuses["flaky"].consecutive_failures == 4


# --- sends -------------------------------------------------------------------------------

ANA = RecipientConfig(
    email="ana@school.example", timezone="America/Chicago", send_at="06:30", follow=("blog",)
)
LUIS = RecipientConfig(
    email="luis@school.example", timezone="Europe/London", send_at="07:00", follow=("blog",)
)
SAM = RecipientConfig(
    email="sam@school.example", timezone="Australia/Sydney", send_at="07:00", follow=("blog",)
)


def test_digests_go_at_local_time_in_three_zones_across_dst_changes(
    tmp_path, clock, mailer, closing
) -> None:
    # Three 3-day windows (downtime between them), ticking every 30 minutes:
    # Sydney springs forward on Sun 4 Oct 2026, London falls back on Sun 25
    # Oct, Chicago on Sun 1 Nov. Mia (Chicago too) gets school days only.
    mia = replace(ANA, email="mia@school.example", days=("mon", "tue", "wed", "thu", "fri"))
    config = make_config(f"sqlite:///{tmp_path}/p.db", ["blog"], (ANA, LUIS, SAM, mia))
    connector = FakeConnector(script={"blog": [FetchResult(posts=(make_post("blog", 1),))]})
    clock.now = utc(2026, 10, 3)
    metronome = metronome_for(config, clock, connector, mailer)
    closing.append(metronome)
    sent: dict[str, list[str]] = {}
    for start in (utc(2026, 10, 3), utc(2026, 10, 24), utc(2026, 10, 31)):
        clock.now = start
        while clock.now < start + timedelta(days=3):
            before = len(mailer.messages)
            tick(metronome)
            zones = {r.email: r.timezone for r in config.recipients}
            for to in mailer.to()[before:]:
                sent.setdefault(to, []).append(
                    clock.now.astimezone(ZoneInfo(zones[to])).strftime("%a %d %H:%M")
                )
            clock.advance(minutes=30)

    def days(names: str, at: str) -> list[str]:
        return [f"{name} {at}" for name in names.split(", ")]

    assert sent[SAM.email] == days(
        "Sun 04, Mon 05, Tue 06, Sun 25, Mon 26, Tue 27, Sun 01, Mon 02, Tue 03", "07:00"
    )
    assert sent[LUIS.email] == days(
        "Sat 03, Sun 04, Mon 05, Sat 24, Sun 25, Mon 26, Sat 31, Sun 01, Mon 02", "07:00"
    )
    assert sent[ANA.email] == days(
        "Sat 03, Sun 04, Mon 05, Sat 24, Sun 25, Mon 26, Sat 31, Sun 01, Mon 02", "06:30"
    )
    assert sent[mia.email] == days("Mon 05, Mon 26, Mon 02", "06:30")


def test_a_slow_source_never_delays_a_send(tmp_path, clock, mailer, closing) -> None:
    release, started = threading.Event(), threading.Event()

    def slow(state: FetchState) -> FetchResult:
        started.set()
        release.wait(10)
        return FetchResult(posts=(make_post("slow", 1),))

    config = make_config(
        f"sqlite:///{tmp_path}/p.db", ["slow", "blog"], (replace(ANA, follow=("slow", "blog")),)
    )
    connector = FakeConnector(script={"slow": [slow], "blog": [FetchResult()]})
    clock.now = utc(2026, 11, 30, 12, 31)  # 06:31 in Chicago: Ana's digest is due
    metronome = metronome_for(config, clock, connector, mailer)
    closing.append(metronome)
    try:
        first = metronome.tick()
        assert started.wait(5)
        assert first.fetch_started and mailer.to() == [ANA.email]
        # A later tick while the fetch still hangs: no second fetch run, no wait.
        clock.advance(minutes=1)
        assert metronome.tick() == TickReport(sent=(), fetch_started=False)
    finally:
        release.set()
    assert metronome.wait_for_fetch(5)
    assert calls(connector, "slow") == 1


def test_after_downtime_a_late_digest_goes_within_grace_and_an_older_one_is_skipped(
    tmp_path, clock, mailer, closing
) -> None:
    config = make_config(f"sqlite:///{tmp_path}/p.db", ["blog"], (ANA, LUIS))
    config = replace(config, schedule=ScheduleConfig(misfire_grace_minutes=120))
    connector = FakeConnector(script={"blog": [FetchResult()]})
    # Back up at 13:30 UTC: Ana's 06:30 (12:30 UTC) is an hour late, Luis's
    # 07:00 (07:00 UTC) six and a half hours.
    clock.now = utc(2026, 11, 30, 13, 30)
    metronome = metronome_for(config, clock, connector, mailer)
    closing.append(metronome)
    report = tick(metronome)
    statuses = {o.email: o.status for o in report.sent}
    assert statuses == {ANA.email: "sent", LUIS.email: "missed"}
    for _ in range(60):  # to 09:30 UTC the next day
        clock.advance(minutes=20)
        tick(metronome)
    assert mailer.to() == [ANA.email, LUIS.email]  # Luis's next morning; nothing twice


# --- fresh before sending ---------------------------------------------------------------


def test_sources_of_a_digest_about_to_go_are_refreshed_if_stale(
    tmp_path, clock, mailer, closing
) -> None:
    config = make_config(
        f"sqlite:///{tmp_path}/p.db", ["followed", "other"], (replace(ANA, follow=("followed",)),)
    )
    # Both fetched every 3 hours: only the digest makes "followed" come sooner.
    config = replace(
        config, sources=tuple(replace(s, interval_minutes=180) for s in config.sources)
    )
    connector = FakeConnector(script={"followed": [FetchResult()], "other": [FetchResult()]})
    clock.now = utc(2026, 11, 30, 11, 0)  # 05:00 in Chicago
    metronome = metronome_for(config, clock, connector, mailer)
    closing.append(metronome)
    tick(metronome)
    clock.advance(minutes=50)  # 05:50: 40 minutes before Ana's digest, nothing fetched
    tick(metronome)
    assert (calls(connector, "followed"), calls(connector, "other")) == (1, 1)
    clock.advance(minutes=15)  # 06:05: within 30 minutes, and fetched 65 minutes ago
    for _ in range(10):
        tick(metronome)
        clock.advance(minutes=2)
    assert (calls(connector, "followed"), calls(connector, "other")) == (2, 1)


def test_refresh_leaves_failing_sources_to_their_back_off(tmp_path, clock) -> None:
    connector = FakeConnector(
        script={"down": [FetchError("down", "refused")], "ok": [FetchResult()]}
    )
    with build_app(
        make_config(f"sqlite:///{tmp_path}/p.db", ["down", "ok"]), clock, {"rss": connector}
    ) as app:
        refresh_stale_sources(app, ["down", "ok"], timedelta(minutes=30))
        clock.advance(minutes=31)
        again = refresh_stale_sources(app, ["down", "ok"], timedelta(minutes=30))
    assert [o.source_key for o in again] == ["ok"]


# --- health, status, reload ---------------------------------------------------------------


def test_weekly_health_email_goes_once_on_its_day_with_failing_and_stale_sources(
    tmp_path, clock, mailer, closing
) -> None:
    config = make_config(f"sqlite:///{tmp_path}/p.db", ["down", "quiet", "lively"])
    config = replace(
        config,
        email=replace(config.email, admin="coach@school.example"),
        schedule=ScheduleConfig(
            weekly_health_email="mon", timezone="Europe/London", stale_after_days=3
        ),
    )
    n = iter(range(1000))
    connector = FakeConnector(
        script={
            "down": [
                FetchResult(posts=(make_post("down", 0),)),
                FetchError("down", "404 Not Found"),
            ],
            "quiet": [FetchResult(posts=(make_post("quiet", 0),)), FetchResult()],
            "lively": [lambda state: FetchResult(posts=(make_post("lively", next(n)),))],
        }
    )
    clock.now = utc(2026, 11, 25, 7, 30)  # a Wednesday
    metronome = metronome_for(config, clock, connector, mailer)
    closing.append(metronome)
    while clock.now < utc(2026, 12, 1, 12, 0):  # to Tuesday noon, hourly
        tick(metronome)
        clock.advance(hours=1)
    assert mailer.to() == ["coach@school.example"]
    body = mailer.messages[0].get_content()
    assert "down (rss): failing" in body and "404 Not Found" in body
    assert "quiet (rss): stale" in body and "lively" not in body
    assert mailer.messages[0]["Date"] is not None


def test_a_restart_on_health_email_day_does_not_send_it_twice(
    tmp_path, clock, mailer, closing
) -> None:
    config = make_config(f"sqlite:///{tmp_path}/p.db", ["blog"])
    config = replace(
        config,
        email=replace(config.email, admin="coach@school.example"),
        schedule=ScheduleConfig(weekly_health_email="mon", timezone="Europe/London"),
    )
    connector = FakeConnector(script={"blog": [FetchResult()]})
    clock.now = utc(2026, 11, 30, 7, 5)  # Monday, just after 07:00 in London
    first = metronome_for(config, clock, connector, mailer)
    closing.append(first)
    tick(first)
    first.close(5)
    clock.advance(minutes=10)
    restarted = metronome_for(config, clock, connector, mailer)
    closing.append(restarted)
    tick(restarted)
    assert mailer.to() == ["coach@school.example"]


def test_status_names_each_recipients_next_digest(tmp_path, clock, mailer, closing) -> None:
    config = make_config(
        f"sqlite:///{tmp_path}/p.db", ["blog"], (replace(ANA, days=("mon",)), LUIS)
    )
    clock.now = utc(2026, 11, 30, 12, 45)  # Monday, after Ana's 06:30
    metronome = metronome_for(
        config, clock, FakeConnector(script={"blog": [FetchResult()]}), mailer
    )
    closing.append(metronome)
    tick(metronome)  # Ana's digest goes; Luis's was missed
    assert dict(next_digests(metronome.app)) == {
        ANA.email: utc(2026, 12, 7, 12, 30),
        LUIS.email: utc(2026, 12, 1, 7, 0),
    }


def test_reload_swaps_the_app_between_ticks_and_keeps_the_old_on_a_bad_config(
    tmp_path, clock, mailer
) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    connector = FakeConnector(script={"blog": [FetchResult()]})
    configs: list[Config | Exception] = [make_config(url, ["blog"], (ANA,))]

    def rebuild() -> App:
        latest = configs[-1]
        if isinstance(latest, Exception):
            raise latest
        return build_app(latest, clock, {"rss": connector})

    metronome = Metronome(rebuild(), Sender(mailer), rebuild=rebuild)
    try:
        first = metronome.app
        configs.append(make_config(url, ["blog"], (ANA, LUIS)))
        metronome.request_reload()
        tick(metronome)
        assert metronome.app is not first and len(metronome.app.config.recipients) == 2
        from aggregator.domain.errors import ConfigError

        configs.append(ConfigError([]))
        second = metronome.app
        metronome.request_reload()
        tick(metronome)
        assert metronome.app is second
    finally:
        metronome.close(5)


def test_the_scheduler_ticks_once_a_minute_coalesced_one_at_a_time(tmp_path, clock, mailer) -> None:
    metronome = metronome_for(
        make_config(f"sqlite:///{tmp_path}/p.db", []), clock, FakeConnector(), mailer
    )
    try:
        job = build_scheduler(metronome).get_jobs()[0]
        assert (job.trigger.interval, job.coalesce, job.max_instances) == (
            timedelta(minutes=1),
            True,
            1,
        )
        assert job.func == metronome.tick
    finally:
        metronome.close(5)


def test_stopping_takes_no_new_work_and_ends_a_fetch_run_after_its_write(
    tmp_path, clock, mailer
) -> None:
    release = threading.Event()

    def slow(state: FetchState) -> FetchResult:
        release.wait(10)
        return FetchResult(posts=(make_post("a", 1),))

    config = make_config(f"sqlite:///{tmp_path}/p.db", ["a", "b", "c"])
    config = replace(config, fetch=replace(config.fetch, workers=1))
    connector = FakeConnector(
        script={"a": [slow], "b": [FetchResult(posts=(make_post("b", 1),))], "c": [FetchResult()]}
    )
    metronome = metronome_for(config, clock, connector, mailer)
    metronome.tick()
    metronome.stop()
    release.set()
    assert metronome.close(timeout=5)
    assert metronome.tick() == TickReport()
    with build_app(config, clock, {"rss": connector}) as app:
        stored = {s.key: s.posts_stored for s in app.repo.source_statuses()}
    # One result was stored whole, then the run ended: the other result that
    # was ready is dropped (fetched again next time), no source is started.
    assert sorted(stored.values()) == [0, 0, 1]
    assert calls(connector, "c") == 0


@pytest.mark.parametrize(
    "admin, why",
    [
        ("it@school.org\r\nBcc: everyone@elsewhere.example", "[email] admin must be one line"),
        ("IT <it..desk@school.org>", "[email] admin the address has a dot"),
    ],
)
def test_a_health_email_that_cannot_be_written_records_its_own_failure(
    tmp_path, clock, mailer, closing, admin: str, why: str
) -> None:
    """An admin address forced past `pln check`: the health email fails on its own
    claim, recorded once; the service and the digests go on."""
    config = make_config(f"sqlite:///{tmp_path}/p.db", ["blog"], (LUIS,))
    config = replace(
        config,
        email=replace(config.email, admin=admin),
        schedule=ScheduleConfig(weekly_health_email="mon", timezone="Europe/London"),
    )
    clock.now = utc(2026, 11, 30, 7, 5)  # Monday, just after 07:00 in London: both due
    metronome = metronome_for(
        config, clock, FakeConnector(script={"blog": [FetchResult()]}), mailer
    )
    closing.append(metronome)
    tick(metronome)
    clock.advance(minutes=20)
    tick(metronome)
    assert mailer.to() == [LUIS.email]  # Luis's digest went; no health email
    (health,) = [s for s in metronome.app.repo.latest_deliveries() if s.email.startswith("health")]
    assert health.status == "failed" and why in (health.last_error or "")

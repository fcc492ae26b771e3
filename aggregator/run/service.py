"""`pln run`: the long-running service, as a library function.

`run_service` builds the app, ticks a `Metronome` from APScheduler and
handles the signals a service manager sends: SIGTERM and SIGINT stop it
cleanly (no new work; the running send batch finishes; the fetch run ends
after its current write), SIGHUP reloads the configuration between ticks,
as does an edit of the file (an invalid one is logged and the last good
configuration kept).
Nothing is held only in memory: a restart, even after SIGKILL, resumes from
the database (deliveries are claimed before they are sent, fetches are
stored one transaction per source).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from aggregator.app import metrics
from aggregator.app.accepted import record_sent
from aggregator.app.config import load_config
from aggregator.app.health import health_email, health_email_day, source_health
from aggregator.app.mailer import Mailer
from aggregator.app.retention import DailyPruner
from aggregator.app.send import LEASE, send_due_digests
from aggregator.app.wiring import App, build_app, build_mailer
from aggregator.config.types import Config
from aggregator.domain.address import identity, parse_mailbox
from aggregator.domain.clock import Clock, utc_now
from aggregator.domain.delivery import Claim, DeliveryOutcome
from aggregator.domain.errors import PLNError, StorageError
from aggregator.domain.logfmt import fields
from aggregator.run.metronome import TICK, Hook, Metronome, build_scheduler
from connectors.base import Connector

if TYPE_CHECKING:
    from aggregator.run.web.serve import WebServer

log = logging.getLogger(__name__)

# How long shutdown waits for a fetch run to reach a clean stop; systemd's
# TimeoutStopSec (deploy/pln-digest.service) is longer.
STOP_TIMEOUT_S = 45.0


class Sender:
    """Sends every due digest through a mailer made for the app's `[email]`,
    opened and closed per batch (a tick), so a reload takes effect."""

    def __init__(self, mailer: Mailer | None = None) -> None:
        """Use `mailer` for every batch instead of one built from the config (tests)."""
        self._mailer = mailer

    def __call__(self, app: App) -> Sequence[DeliveryOutcome]:
        """Build and send the digests due at the app's clock."""
        mailer = self._mailer or build_mailer(app.config.email)
        try:
            return send_due_digests(app, mailer)
        finally:
            if self._mailer is None:
                mailer.close()


class HealthEmailer:
    """The weekly health email to `[email] admin`, once on its day."""

    def __init__(self, mailer: Mailer | None = None) -> None:
        """Send through `mailer` instead of one built from the config (tests)."""
        self._mailer = mailer

    def __call__(self, app: App) -> None:
        """Send the health email if it is due now and not yet sent that day.

        It is claimed like a digest (see `health_claim_key`), so a
        restart on its day never sends it twice. Whatever goes wrong is
        recorded on that claim (failed, or unknown once the end of the
        message may have gone) and not retried: next week's report follows.
        """
        now = app.clock()
        grace = timedelta(minutes=app.config.schedule.misfire_grace_minutes)
        day = health_email_day(now, app.config.schedule, grace)
        if day is None or not app.config.email.admin:
            return
        claim = app.repo.claim_delivery(health_claim_key(app.config.email.admin), day, now, LEASE)
        if claim is None:
            return
        committed: list[bool] = []
        try:
            self._send(app, claim, day, committed)
        except Exception as exc:  # its own failure, recorded: the service goes on
            _record_health_failure(app, claim, exc, may_have_arrived=bool(committed))

    def _send(self, app: App, claim: Claim, day: date, committed: list[bool]) -> None:
        now, repo = app.clock(), app.repo
        stale_after = timedelta(days=app.config.schedule.stale_after_days)
        health = source_health(repo.source_statuses(with_post_counts=False), now, stale_after)
        message = health_email(
            health, day, app.config.email.from_address, app.config.email.admin, now
        )
        message_id = str(message["Message-ID"])

        def commit() -> None:
            repo.mark_unknown(claim, message_id, now, 0, now)
            committed.append(True)

        mailer = self._mailer or build_mailer(app.config.email)
        try:
            mailer.send(message, commit)
        finally:
            if self._mailer is None:
                mailer.close()
        failure = record_sent(repo, claim, app.clock)
        if failure is not None:
            raise failure  # recorded as unknown: it may have arrived
        log.info(
            "health email sent",
            extra=fields(
                event="health_email",
                failing=sum(h.is_failing for h in health),
                stale=sum(h.is_stale for h in health),
            ),
        )


def _record_health_failure(app: App, claim: Claim, exc: Exception, may_have_arrived: bool) -> None:
    """Record why the health email did not go: failed, or unknown when the end
    of the message may have reached the server (it is never sent again)."""
    if isinstance(exc, PLNError):
        error = str(exc)
    else:
        log.exception("health email: unexpected error", extra=fields(event="health_email"))
        first = str(exc).strip().splitlines()
        error = f"unexpected {type(exc).__name__}: {first[0] if first else ''} (see the log)"
    log.error("health email not sent: %s", error, extra=fields(event="health_email", ok=False))
    try:
        if may_have_arrived:
            app.repo.note_unknown(claim, error)
        else:
            app.repo.mark_failed(claim, error)
    except StorageError as again:
        log.error("health email: its failure could not be recorded: %s", again)


def health_claim_key(admin: str) -> str:
    """What the week's health email is claimed as: one per admin address,
    whatever its case or display name ("health-report:it@school.org")."""
    try:
        address = parse_mailbox(admin)[1]
    except ValueError:  # refused by pln check; its failure is recorded under this key
        address = admin
    return f"health-report:{identity(address)}"


class ConfigWatch:
    """Tells whether the configuration file's bytes changed since the last
    look, so an edit (from the admin pages or by hand) is used from the next
    tick without a restart or SIGHUP."""

    def __init__(self, path: str) -> None:
        """Watch `path`, as it is now."""
        self._path = Path(path)
        self._seen = self._fingerprint()

    def __call__(self) -> bool:
        """True once per change; a file gone or unreadable is no change."""
        now = self._fingerprint()
        if now is None or now == self._seen:
            return False
        self._seen = now
        return True

    def _fingerprint(self) -> str | None:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return None


def make_metronome(
    config_path: str,
    clock: Clock = utc_now,
    connectors: Mapping[str, Connector] | None = None,
    mailer: Mailer | None = None,
) -> Metronome:
    """The metronome of `pln run` for the configuration at `config_path`.

    `connectors` and `mailer` replace the real ones (tests). Raises
    ConfigError or StorageError when the app cannot be built.
    """

    def rebuild() -> App:
        return build_app(load_config(config_path), clock, connectors)

    hooks: list[Hook] = [HealthEmailer(mailer), DailyPruner()]
    watch = ConfigWatch(config_path)
    app = rebuild()
    if app.config.queue is not None:
        # Workers fetch and send: this process only enqueues (a broker change
        # needs a restart; every other setting reloads).
        from aggregator.run.worker.celery_app import make_celery
        from aggregator.run.worker.dispatch import Dispatcher, celery_publisher

        publish = celery_publisher(make_celery(app.config.queue), app.config.queue)
        return Dispatcher(
            app, app.config.queue, publish, hooks=hooks, rebuild=rebuild, changed=watch
        )
    return Metronome(app, Sender(mailer), hooks=hooks, rebuild=rebuild, changed=watch)


def _serve_web(config_path: str, config: Config) -> tuple[WebServer, threading.Thread] | None:
    """The web pages in a thread when `[web] listen` is set, else None."""
    if not config.web.listen:
        return None
    # Flask is loaded only by a service that serves pages.
    from aggregator.run.web.serve import serve_beside

    return serve_beside(config_path, config)


def run_service(
    config_path: str,
    clock: Clock = utc_now,
    connectors: Mapping[str, Connector] | None = None,
    mailer: Mailer | None = None,
    every: timedelta = TICK,
) -> int:
    """Run until SIGTERM or SIGINT; returns the exit status (0: clean stop).

    With `[queue]` set it ticks every `[queue] tick_seconds` instead of
    `every`, and only enqueues. With `[web] listen` set, the web pages are
    served beside it, in a thread, until the same signal. Must run in the
    main thread (signal handlers). Raises ConfigError or StorageError when
    the service cannot start, PLNError when the pages cannot be served.
    """
    metrics.enable()  # scraped through `pln serve` (see aggregator.app.metrics)
    metronome = make_metronome(config_path, clock, connectors, mailer)
    queue = metronome.app.config.queue
    if queue is not None:
        every = timedelta(seconds=queue.tick_seconds)
    scheduler = build_scheduler(metronome, every)
    web = _serve_web(config_path, metronome.app.config)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name, extra=fields(event="stop"))
        metronome.stop()
        if web is not None:
            threading.Thread(target=web[0].stop).start()
        # Not in the handler itself: shutdown takes the scheduler's locks,
        # which the interrupted main thread may hold.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}).start()

    def reload(signum: int, frame: FrameType | None) -> None:
        log.info("reload requested", extra=fields(event="reload"))
        metronome.request_reload()

    # APScheduler logs every run of the job at INFO: one line a minute of noise.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    log.info("service started", extra=fields(event="start", config=config_path))
    try:
        scheduler.start()
    finally:
        clean = metronome.close(STOP_TIMEOUT_S)
        if web is not None:
            web[0].stop()
            web[1].join(STOP_TIMEOUT_S)
    log.info("service stopped", extra=fields(event="stopped", clean=clean))
    return 0

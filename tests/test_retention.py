"""`[storage] keep_days`: old posts are pruned, the posts a sent digest showed are kept."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from aggregator.app.mailer import FileMailer
from aggregator.app.retention import DailyPruner, prune_old_posts
from aggregator.app.send import LEASE, send_due_digests
from aggregator.app.wiring import build_app
from aggregator.config.types import StorageConfig
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult
from aggregator.run.cli.commands import main
from aggregator.store.repository import Repository
from tests.fakes import T0, FixedClock, make_config, make_post

OLD = T0 - timedelta(days=40)
RECENT = T0 - timedelta(days=1)
KEEP = timedelta(days=30)
ANA = "ana@school.org"


def query(url: str, work):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return work(conn)
    finally:
        engine.dispose()


def post_ids(url: str) -> set[str]:
    return query(url, lambda conn: set(conn.scalars(sa.text("SELECT external_id FROM posts"))))


def orphans(url: str) -> int:
    """Records of what digests showed left behind by a deleted post."""
    return query(
        url,
        lambda conn: conn.scalar(
            sa.text("SELECT count(*) FROM digest_posts WHERE post_id NOT IN (SELECT id FROM posts)")
        ),
    )


def send_showing(repo: Repository, day: date, shown: list[str], outcome: str) -> None:
    """A digest of `day` that showed the posts `shown` (external ids of "blog"),
    ending as `outcome`: "sent", "unknown" or "failed"."""
    at = OLD + timedelta(days=day.day)
    claim = repo.claim_delivery(ANA, day, at, LEASE)
    assert claim is not None
    repo.mark_unknown(claim, f"<{day}@x>", at, len(shown), at, [("blog", i) for i in shown])
    if outcome == "sent":
        repo.mark_sent(claim, at)
    elif outcome == "failed":
        repo.mark_failed(claim, "550 no such user")


@pytest.fixture
def repo(db_url: str):
    config = make_config(db_url, ["blog"])
    with Repository.open(db_url) as repository:
        repository.sync_sources(config.sources, OLD)
        yield repository


def test_old_posts_go_and_what_sent_digests_showed_stays(repo: Repository, db_url: str) -> None:
    old = tuple(make_post("blog", n, at=OLD) for n in range(1, 6))
    repo.save_fetch("blog", FetchResult(old), OLD, OLD)
    # Published long ago, but only stored yesterday: kept its full time.
    repo.save_fetch("blog", FetchResult((make_post("blog", 6, at=OLD),)), RECENT, RECENT)
    repo.save_fetch("blog", FetchResult((make_post("blog", 7, at=RECENT),)), RECENT, RECENT)
    send_showing(repo, date(2026, 10, 21), ["blog-1"], "sent")
    send_showing(repo, date(2026, 10, 22), ["blog-2"], "unknown")  # may have been accepted
    send_showing(repo, date(2026, 10, 23), ["blog-3"], "failed")  # never reached anyone
    assert repo.post_counts().stored == 7

    assert repo.prune_posts(T0 - KEEP) == 3  # blog-3, blog-4, blog-5
    assert post_ids(db_url) == {"blog-1", "blog-2", "blog-6", "blog-7"}
    assert orphans(db_url) == 0  # the failed digest's record went too
    counts = repo.post_counts()
    assert (counts.stored, counts.shown_in_sent_digests) == (4, 2)
    (status,) = repo.source_statuses()
    assert status.posts_stored == 4
    assert repo.prune_posts(T0 - KEEP) == 0  # idempotent


def test_a_digest_sent_again_records_what_it_showed_the_second_time(
    repo: Repository, db_url: str
) -> None:
    repo.save_fetch(
        "blog", FetchResult(tuple(make_post("blog", n, at=OLD) for n in (1, 2))), OLD, OLD
    )
    day = date(2026, 10, 21)
    claim = repo.claim_delivery(ANA, day, OLD, LEASE)
    assert claim is not None
    repo.mark_unknown(claim, "<1@x>", OLD, 1, OLD, [("blog", "blog-1")])
    repo.release_unknown(ANA, day, OLD)  # the mail log showed it never left
    (retry,) = repo.deliveries_to_retry(OLD)
    again = repo.reclaim_delivery(retry, OLD, LEASE)
    assert again is not None
    repo.mark_unknown(again, "<2@x>", OLD, 2, OLD, [("blog", "blog-2"), ("blog", "gone-99")])
    repo.mark_sent(again, OLD)
    repo.prune_posts(T0 - KEEP)
    assert post_ids(db_url) == {"blog-2"}


def test_sending_records_the_posts_a_digest_showed(db_url: str, tmp_path: Path) -> None:
    clock = FixedClock()
    ana = RecipientConfig(email=ANA, name="Ana", timezone="UTC", send_at="11:30", follow=("blog",))
    config = dataclasses.replace(make_config(db_url, ["blog"], (ana,)), storage=StorageConfig(30))
    with build_app(config, clock, connectors={}) as app:
        posts = tuple(make_post("blog", n, at=T0 - timedelta(hours=n)) for n in (1, 2))
        app.repo.save_fetch("blog", FetchResult(posts), T0, T0)
        with FileMailer(tmp_path / "out") as mailer:
            (outcome,) = send_due_digests(app, mailer)
        assert outcome.status == "sent"
        # One story (near-identical texts): blog-1 shown, blog-2 among its sharers.
        unseen = make_post("blog", 3, at=T0 - timedelta(days=3))  # outside the window
        app.repo.save_fetch("blog", FetchResult((unseen,)), T0, T0)

        clock.advance(days=45)
        assert prune_old_posts(app) == 1
        assert post_ids(db_url) == {"blog-1", "blog-2"}


def test_pln_run_prunes_once_a_day(db_url: str) -> None:
    clock = FixedClock()
    with build_app(make_config(db_url, ["blog"]), clock, connectors={}) as app:
        app.repo.save_fetch("blog", FetchResult((make_post("blog", 1, at=OLD),)), OLD, OLD)
        pruner = DailyPruner()
        pruner(app)
        assert post_ids(db_url) == set()
        app.repo.save_fetch("blog", FetchResult((make_post("blog", 2, at=OLD),)), OLD, OLD)
        clock.advance(hours=1)
        pruner(app)  # the same day: nothing done
        assert post_ids(db_url) == {"blog-2"}
        clock.advance(days=1)
        pruner(app)
        assert post_ids(db_url) == set()


def test_pln_fetch_prunes_and_pln_status_counts(tmp_path: Path) -> None:
    db = tmp_path / "pln.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n\n[storage]\nkeep_days = 30\n\n'
        '[[sources]]\nkey = "blog"\nkind = "rss"\nurl = "https://blog.example/feed"\n',
        encoding="utf-8",
    )
    with Repository.open(f"sqlite:///{db}") as repo:
        repo.sync_sources(make_config("", ["blog"]).sources, OLD)
        old = tuple(make_post("blog", n, at=OLD) for n in range(3))
        repo.save_fetch("blog", FetchResult(old), OLD, OLD)
    runner = CliRunner()
    before = runner.invoke(main, ["status", "--config", str(config)])
    assert "3 posts stored" in before.stdout, before.output
    # No network in tests: the source fails, and the old posts are pruned anyway.
    fetched = runner.invoke(main, ["fetch", "--config", str(config)])
    assert "Pruned 3 posts older than 30 days." in fetched.stdout, fetched.output
    after = runner.invoke(main, ["status", "--config", str(config)])
    assert "0 posts stored" in after.stdout and "except 0 posts shown" in after.stdout

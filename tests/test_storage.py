"""Repository behaviour on SQLite and, when configured, PostgreSQL (`db_url`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from aggregator.domain.delivery import Claim
from aggregator.domain.errors import StorageError
from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, FetchState, SourceConfig
from aggregator.store import sources
from aggregator.store.migrations import alembic_config
from aggregator.store.repository import Repository
from aggregator.store.tables import Base

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

BLOG = SourceConfig("blog", "rss", "A blog", (("url", "https://blog.example/feed"),))
TAG = SourceConfig("edchat", "mastodon_tag", "", (("instance", "m.example"), ("tag", "edchat")))


def make_post(n: int, source_key: str = "blog", **changes: object) -> Post:
    post = Post(
        source_key=source_key,
        external_id=f"id-{n}",
        network="rss",
        url=f"https://blog.example/{n}",
        author="Ana",
        title=f"Post {n}",
        text=f"text {n}",
        html=f"<p>text {n}</p>",
        published_at=NOW - timedelta(minutes=n),
        engagement=Engagement(likes=n, reposts=1, replies=2, quotes=3),
        hashtags=("edchat", "ngss"),
        links=(f"https://shared.example/{n}", "https://shared.example/common"),
        content_hash=f"hash-{n}",
    )
    return replace(post, **changes)  # type: ignore[arg-type]


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    repository = Repository.open(db_url)
    repository.sync_sources([BLOG, TAG], NOW)
    yield repository
    repository.close()


def count_statements(engine: sa.Engine) -> list[str]:
    statements: list[str] = []

    def listener(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    return statements


def status(repo: Repository, key: str):  # type: ignore[no-untyped-def]
    (found,) = repo.source_statuses([key])
    return found


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def stored_posts(repo: Repository) -> int:
    return sum(s.posts_stored for s in repo.source_statuses())


# -- opening and migrations ------------------------------------------------------


def test_first_open_creates_schema_and_second_open_changes_nothing(db_url: str) -> None:
    with Repository.open(db_url) as repo:
        repo.sync_sources([BLOG], NOW)
        repo.save_fetch("blog", FetchResult((make_post(1),)), NOW, LATER)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        ddl = count_statements(engine)
        with Repository.open(db_url) as again:
            assert stored_posts(again) == 1
        assert not [s for s in ddl if s.lstrip().upper().startswith(("CREATE", "ALTER"))]
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    Repository.open(db_url).close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    with Repository.open(f"sqlite:///{tmp_path / 'p.db'}") as repo:
        with repo._engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000
            assert pragma("synchronous") == 1  # NORMAL


def test_unopenable_sqlite_file_is_one_line_storage_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'pln.db'}"
    with pytest.raises(StorageError) as caught:
        Repository.open(url)
    assert str(caught.value) == f"cannot open database {url}: unable to open database file"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg://pln:s3cr3t-pw@127.0.0.1:1/pln", id="unreachable"),
        pytest.param("mysql://pln:s3cr3t-pw@db.example/pln", id="unsupported"),
        pytest.param("postgresql+nosuchdriver://pln:s3cr3t-pw@127.0.0.1/pln", id="no-driver"),
        pytest.param("postgresql://pln:s3cr3t-pw@127.0.0.1:notaport/pln", id="unparseable"),
    ],
)
def test_password_never_appears_in_errors(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        Repository.open(url)
    message = str(caught.value)
    assert "s3cr3t-pw" not in message
    assert "***" in message
    assert "\n" not in message


def test_password_is_hidden_in_errors_after_open(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a SQLite URL carries no password")
    url = sa.make_url(db_url).set(password="s3cr3t-pw").render_as_string(hide_password=False)
    with Repository.open(url) as repo:  # the test server trusts 127.0.0.1: any password
        repo.sync_sources([BLOG], NOW)
        broken = replace(make_post(1), author=None)
        with pytest.raises(StorageError) as caught:
            repo.save_fetch("blog", FetchResult((broken,)), NOW, LATER)
    assert "s3cr3t-pw" not in str(caught.value)
    assert "postgres:***@" in str(caught.value)


def test_in_memory_database_is_shared_by_every_call() -> None:
    with Repository.open("sqlite://") as repo:
        repo.sync_sources([BLOG], NOW)
        repo.save_fetch("blog", FetchResult((make_post(1),)), NOW, LATER)
        assert stored_posts(repo) == 1


def test_a_locked_sqlite_database_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "pln.db"
    with Repository.open(f"sqlite:///{path}") as repo:
        repo.sync_sources([BLOG], NOW)
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process writing
        threading.Timer(0.3, other.commit).start()
        repo.save_failure("blog", "timeout", NOW, LATER)
        other.close()
        assert status(repo, "blog").consecutive_failures == 1


# -- sources ---------------------------------------------------------------------------


def test_sync_sources_inserts_due_active_sources_idempotently(repo: Repository) -> None:
    repo.sync_sources([BLOG, TAG], LATER)
    statuses = repo.source_statuses()
    assert [(s.key, s.kind, s.is_active, s.next_attempt_at) for s in statuses] == [
        ("blog", "rss", True, NOW),
        ("edchat", "mastodon_tag", True, NOW),
    ]
    assert repo.due_source_keys(NOW) == ["blog", "edchat"]
    assert repo.due_source_keys(NOW - timedelta(seconds=1)) == []


def test_removed_source_is_deactivated_posts_kept_and_comes_back(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1), make_post(2))), NOW, LATER)
    repo.sync_sources([TAG], NOW)
    blog = status(repo, "blog")
    assert not blog.is_active and blog.posts_stored == 2
    assert [s.key for s in repo.source_statuses(include_inactive=False)] == ["edchat"]
    assert "blog" not in repo.due_source_keys(LATER)
    repo.sync_sources([BLOG, TAG], LATER)
    assert status(repo, "blog").is_active
    assert stored_posts(repo) == 2


def test_edited_source_takes_new_options_and_forgets_old_state(repo: Repository) -> None:
    moved = FetchResult(etag='"v1"', moved_to="https://moved.example/feed")
    repo.save_fetch("blog", moved, NOW, LATER)
    edited = replace(BLOG, name="Renamed", options=(("url", "https://new.example/feed"),))
    repo.sync_sources([edited, TAG], LATER)
    blog = status(repo, "blog")
    assert blog.state == FetchState()
    assert blog.next_attempt_at == LATER
    renamed_only = replace(edited, name="Renamed again")
    repo.save_fetch("blog", FetchResult(etag='"v2"'), LATER, LATER)
    repo.sync_sources([renamed_only, TAG], LATER)
    assert status(repo, "blog").state.etag == '"v2"'


def test_gone_source_stays_inactive_until_its_options_change(repo: Repository) -> None:
    repo.save_failure("blog", "410 Gone: the feed was removed", NOW, LATER, deactivate=True)
    repo.sync_sources([BLOG, TAG], LATER)
    blog = status(repo, "blog")
    assert not blog.is_active
    assert blog.last_error == "410 Gone: the feed was removed"
    assert "blog" not in repo.due_source_keys(LATER)
    new_url = replace(BLOG, options=(("url", "https://blog.example/new-feed"),))
    repo.sync_sources([new_url, TAG], LATER)
    blog = status(repo, "blog")
    assert blog.is_active and blog.consecutive_failures == 0
    assert sorted(repo.due_source_keys(LATER)) == ["blog", "edchat"]


def test_failures_count_up_and_a_success_resets_them(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1),), cursor="c1"), NOW, NOW)
    wait = NOW + timedelta(minutes=30)
    repo.save_failure("blog", "timeout", NOW, LATER)
    repo.save_failure("blog", "rate limited", NOW, LATER, wait_until=wait)
    blog = status(repo, "blog")
    assert (blog.consecutive_failures, blog.last_error) == (2, "rate limited")
    assert blog.wait_until == wait
    assert (blog.last_attempt_at, blog.last_success_at, blog.next_attempt_at) == (NOW, NOW, LATER)
    assert blog.state.cursor == "c1" and blog.posts_stored == 1
    repo.save_fetch("blog", FetchResult(cursor="c2"), LATER, LATER + timedelta(hours=1))
    blog = status(repo, "blog")
    assert (blog.consecutive_failures, blog.last_error, blog.wait_until) == (0, None, None)
    assert blog.last_success_at == LATER and blog.state.cursor == "c2"


def test_unknown_source_is_a_storage_error(repo: Repository) -> None:
    with pytest.raises(StorageError, match="unknown source 'nope'"):
        repo.save_fetch("nope", FetchResult(), NOW, LATER)
    with pytest.raises(StorageError, match="unknown source 'nope'"):
        repo.save_failure("nope", "boom", NOW, LATER)


# -- saving fetches ------------------------------------------------------------------


def test_same_batch_twice_stores_it_once(repo: Repository) -> None:
    batch = FetchResult(tuple(make_post(n) for n in range(5)), etag='"a"')
    assert repo.save_fetch("blog", batch, NOW, LATER) == (5, 0)
    assert repo.save_fetch("blog", batch, LATER, LATER) == (0, 0)
    assert stored_posts(repo) == 5
    assert status(repo, "blog").posts_stored == 5


def test_changed_post_is_updated_in_place(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1), make_post(2))), NOW, LATER)
    edited = make_post(
        1,
        text="edited",
        html="<p>edited</p>",
        content_hash="hash-1b",
        engagement=Engagement(likes=40),
        links=("https://other.example/",),
    )
    assert repo.save_fetch("blog", FetchResult((edited, make_post(2))), LATER, LATER) == (0, 1)
    assert stored_posts(repo) == 2
    posts = repo.posts_for_digest(["blog"], NOW - timedelta(days=1), LATER)
    stored = {p.external_id: p for p in posts}
    assert stored["id-1"] == edited
    assert stored["id-2"] == make_post(2)


def test_posts_without_content_hash_are_compared_by_content(repo: Repository) -> None:
    post = make_post(1, content_hash="")
    assert repo.save_fetch("blog", FetchResult((post,)), NOW, LATER) == (1, 0)
    assert repo.save_fetch("blog", FetchResult((post,)), NOW, LATER) == (0, 0)
    more_likes = replace(post, engagement=Engagement(likes=99))
    assert repo.save_fetch("blog", FetchResult((more_likes,)), NOW, LATER) == (0, 1)


def test_duplicate_ids_in_one_batch_last_wins_counted_once(repo: Repository) -> None:
    first, last = make_post(1), make_post(1, text="last", content_hash="h-last")
    assert repo.save_fetch("blog", FetchResult((first, make_post(2), last)), NOW, LATER) == (2, 0)
    posts = repo.posts_for_digest(["blog"], NOW - timedelta(days=1), LATER)
    (stored,) = [p for p in posts if p.external_id == "id-1"]
    assert stored.text == "last"


def test_not_modified_keeps_validators_and_records_the_attempt(repo: Repository) -> None:
    validators = FetchResult(etag='"e1"', last_modified="Mon, 10 Mar 2025 10:00:00 GMT")
    repo.save_fetch("blog", validators, NOW, NOW)
    repo.save_fetch("blog", FetchResult(not_modified=True), LATER, LATER)
    blog = status(repo, "blog")
    assert blog.state.etag == '"e1"'
    assert blog.state.last_modified == "Mon, 10 Mar 2025 10:00:00 GMT"
    assert blog.last_success_at == LATER


def test_moved_url_is_remembered(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult(moved_to="https://moved.example/feed"), NOW, LATER)
    assert status(repo, "blog").state.url == "https://moved.example/feed"
    repo.save_fetch("blog", FetchResult(), LATER, LATER)
    assert status(repo, "blog").state.url == "https://moved.example/feed"


def test_crash_mid_batch_stores_nothing_of_it(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(0),), etag='"before"'), NOW, NOW)
    posts = [make_post(n) for n in range(1, 1600)]
    # NOT NULL violated by the 1,500th post: the rows before it were already sent.
    posts[1499] = replace(posts[1499], author=None)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="saving posts of blog failed"):
        repo.save_fetch("blog", FetchResult(tuple(posts), etag='"after"'), LATER, LATER)
    assert stored_posts(repo) == 1
    blog = status(repo, "blog")
    assert (blog.state.etag, blog.last_attempt_at, blog.next_attempt_at) == ('"before"', NOW, NOW)


def test_crash_after_insert_rolls_back_posts_and_state(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_posts = sources.insert_posts

    def explode(*args: Any) -> None:
        insert_posts(*args)  # the posts are in the transaction when it fails
        raise sa.exc.OperationalError("INSERT INTO posts", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sources, "insert_posts", explode)
    with pytest.raises(StorageError, match="disk I/O error"):
        repo.save_fetch("blog", FetchResult((make_post(1),), cursor="c"), NOW, LATER)
    assert stored_posts(repo) == 0
    assert status(repo, "blog").state == FetchState()
    assert status(repo, "blog").last_attempt_at is None


def test_post_of_another_source_is_refused(repo: Repository) -> None:
    with pytest.raises(ValueError, match="id-1"):
        repo.save_fetch("blog", FetchResult((make_post(1, source_key="edchat"),)), NOW, LATER)


def test_large_batch_takes_a_few_statements_not_one_per_post(repo: Repository) -> None:
    statements = count_statements(repo._engine)
    batch = FetchResult(tuple(make_post(n) for n in range(2000)))
    assert repo.save_fetch("blog", batch, NOW, LATER) == (2000, 0)
    assert len(statements) < 20
    statements.clear()
    changed = FetchResult(tuple(make_post(n, content_hash=f"new-{n}") for n in range(2000)))
    assert repo.save_fetch("blog", changed, LATER, LATER) == (0, 2000)
    assert len(statements) < 20
    assert stored_posts(repo) == 2000


def test_ten_thousand_posts_in_one_call(repo: Repository) -> None:
    batch = FetchResult(tuple(make_post(n, links=()) for n in range(10_000)))
    assert repo.save_fetch("blog", batch, NOW, LATER) == (10_000, 0)
    assert repo.save_fetch("blog", batch, NOW, LATER) == (0, 0)


# -- digests --------------------------------------------------------------------------


def test_posts_for_digest_window_order_and_utc(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult(tuple(make_post(n) for n in range(4))), NOW, LATER)
    tied = make_post(
        9, source_key="edchat", external_id="a-first", published_at=NOW - timedelta(minutes=1)
    )
    repo.save_fetch("edchat", FetchResult((tied,)), NOW, LATER)
    posts = repo.posts_for_digest(["blog", "edchat"], NOW - timedelta(minutes=2), NOW)
    # [since, until): minute 0 is `until` (out), minute 2 is `since` (in).
    assert [p.external_id for p in posts] == ["a-first", "id-1", "id-2"]
    assert all(p.published_at.tzinfo == UTC for p in posts)
    assert posts[1] == make_post(1)
    assert repo.posts_for_digest(["edchat"], NOW - timedelta(days=1), LATER) == [tied]
    assert repo.posts_for_digest([], NOW - timedelta(days=1), LATER) == []


def test_other_zones_are_stored_as_utc(repo: Repository) -> None:
    paris = timezone(timedelta(hours=1))
    post = make_post(1, published_at=datetime(2025, 3, 10, 12, 30, tzinfo=paris))
    repo.save_fetch("blog", FetchResult((post,)), NOW, LATER)
    (stored,) = repo.posts_for_digest(["blog"], NOW - timedelta(hours=2), NOW)
    assert stored.published_at == datetime(2025, 3, 10, 11, 30, tzinfo=UTC)
    assert stored.published_at.tzinfo == UTC


def test_naive_datetime_is_refused(repo: Repository) -> None:
    with pytest.raises(StorageError, match="naive datetime"):
        repo.save_failure("blog", "x", datetime(2025, 1, 1), LATER)


def deliver(repo: Repository, email: str, day: date, at: datetime) -> Claim:
    """Claim `email`'s digest for `day` at `at` and send it as far as the last step."""
    claim = repo.claim_delivery(email, day, at, timedelta(minutes=15))
    assert claim is not None
    repo.mark_unknown(claim, f"<{day}@school.org>", at, 5, at)
    return claim


def test_last_digest_at_is_the_latest_sent_digest(repo: Repository) -> None:
    ana, ben = "ana@school.org", "ben@school.org"
    repo.sync_recipients([RecipientConfig(ana), RecipientConfig(ben)])
    assert repo.last_digest_at(ana) is None
    yesterday = deliver(repo, ana, date(2025, 3, 9), NOW - timedelta(days=1))
    deliver(repo, ana, date(2025, 3, 10), NOW)
    assert repo.last_digest_at(ana) is None  # built, never sent
    repo.mark_sent(yesterday, NOW - timedelta(hours=20))
    assert repo.last_digest_at(ana) == NOW - timedelta(days=1)
    # A send batch reads them all at once: the same instants, none for Ben.
    assert repo.last_digests_at([ana, ben]) == {ana: NOW - timedelta(days=1)}
    assert repo.last_digests() == [(ana, NOW - timedelta(hours=20)), (ben, None)]
    assert repo.last_digests()[0][1].tzinfo == UTC  # type: ignore[union-attr]


def test_a_day_is_claimed_once(repo: Repository) -> None:
    day = date(2025, 3, 10)
    assert repo.claim_delivery("ana@school.org", day, NOW, timedelta(minutes=15)) is not None
    assert repo.claim_delivery("ana@school.org", day, LATER, timedelta(minutes=15)) is None
    assert repo.recorded_days(["ana@school.org"], day) == {"ana@school.org": {day}}


# -- recipients -------------------------------------------------------------------------


def test_sync_recipients_deactivates_the_missing_and_brings_them_back(repo: Repository) -> None:
    ana = RecipientConfig("ana@school.org", follow=("blog", "edchat"))
    ben = RecipientConfig("ben@school.org", follow=("blog",))
    repo.sync_recipients([ana, ben])
    repo.sync_recipients([ana, ben])
    repo.sync_recipients([replace(ana, follow=("edchat",))])
    assert [email for email, _ in repo.last_digests()] == ["ana@school.org"]
    repo.sync_recipients([replace(ana, follow=("edchat",)), ben])
    assert [email for email, _ in repo.last_digests()] == ["ana@school.org", "ben@school.org"]


def test_a_district_of_recipients_is_synced_in_one_go(repo: Repository) -> None:
    # 11,000 rows of six columns: more parameters than one statement may carry
    # on PostgreSQL (65,535) or SQLite (32,766).
    district = [RecipientConfig(f"teacher{n}@school.org") for n in range(11_000)]
    repo.sync_recipients(district)
    assert len(repo.last_digests()) == 11_000


def test_an_unsubscribed_recipient_stays_inactive_across_syncs(repo: Repository) -> None:
    ana = RecipientConfig("ana@school.org")
    repo.sync_recipients([ana])
    assert repo.unsubscribe("ANA@school.org", NOW) is True
    repo.sync_recipients([ana])
    assert repo.last_digests() == []
    assert repo.unsubscribed() == {"ana@school.org"}
    assert repo.lift_unsubscribes({"ana@school.org": NOW.date()}, ["ana@school.org"]) == [
        "ana@school.org"
    ]
    assert [email for email, _ in repo.last_digests()] == ["ana@school.org"]


def test_statuses_without_counts_skip_only_the_count(repo: Repository) -> None:
    repo.save_fetch("blog", FetchResult((make_post(1), make_post(2)), etag='"e"'), NOW, LATER)
    counted = {s.key: s for s in repo.source_statuses()}
    light = {s.key: s for s in repo.source_statuses(with_post_counts=False)}
    assert counted["blog"].posts_stored == 2 and light["blog"].posts_stored == 0
    assert replace(light["blog"], posts_stored=2) == counted["blog"]
    assert [s.key for s in repo.source_statuses(["blog"], with_post_counts=False)] == ["blog"]


def test_a_database_made_by_an_older_version_is_upgraded_on_open(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        with Repository.open(db_url) as repo:
            repo.sync_sources([BLOG], NOW)
            post = replace(make_post(1), author_url="https://blog.example/authors/ana")
            repo.save_fetch("blog", FetchResult((post,)), NOW, LATER)
            stored = repo.posts_for_digest(["blog"], NOW - timedelta(days=30), LATER)
        assert [p.author_url for p in stored] == ["https://blog.example/authors/ana"]
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()


def test_addresses_stored_in_mixed_case_become_one_identity_on_upgrade(db_url: str) -> None:
    """Rows written before addresses were one identity whatever their case: the
    same teacher twice, and two digests the same day, are merged on open."""
    tables = Base.metadata.tables
    day = "2025-03-10"
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
            recipient = {"name": "", "timezone": "UTC", "send_at": "06:30", "reading_minutes": 5}
            conn.execute(
                sa.insert(tables["recipients"]),
                [
                    {
                        **recipient,
                        "email": "Ana@School.org",
                        "is_active": False,
                        "unsubscribed_at": NOW,
                    },
                    {
                        **recipient,
                        "email": "ana@school.org",
                        "is_active": True,
                        "unsubscribed_at": None,
                    },
                    {
                        **recipient,
                        "email": "Ben@School.org",
                        "is_active": True,
                        "unsubscribed_at": None,
                    },
                ],
            )
            for email, status in [
                ("Ana@School.org", "sent"),
                ("ana@school.org", "claimed"),
                ("Ben@School.org", "unknown"),
                ("health-report:IT <IT@School.org>", "sent"),
            ]:
                digest_id = conn.execute(
                    sa.insert(tables["digests"]).returning(tables["digests"].c.id),
                    {"recipient_email": email, "local_day": day, "built_at": NOW},
                ).scalar_one()
                conn.execute(
                    sa.insert(tables["deliveries"]),
                    {"digest_id": digest_id, "claimed_at": NOW, "attempts": 1, "status": status},
                )
        with Repository.open(db_url) as repo:
            assert repo.unsubscribed() == {"ana@school.org"}
            states = {s.email: s.status for s in repo.latest_deliveries()}
            assert states == {
                "ana@school.org": "sent",
                "ben@school.org": "unknown",
                "health-report:it@school.org": "sent",
            }
            assert (
                repo.claim_delivery("ana@school.org", date(2025, 3, 10), NOW, LATER - NOW) is None
            )
            assert repo.unsubscribe("ANA@school.org", NOW) is False
            repo.sync_recipients([RecipientConfig(email="Ben@School.org")])
        with engine.connect() as conn:
            stored = sorted(conn.execute(sa.text("SELECT email FROM recipients")).scalars())
            assert stored == ["ana@school.org", "ben@school.org"]
    finally:
        engine.dispose()

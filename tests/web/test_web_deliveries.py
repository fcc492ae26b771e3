"""/admin/deliveries: the latest digests and their state, escaped, for admins only."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flask.testing import FlaskClient

from aggregator.app.config import load_config
from aggregator.app.wiring import build_app
from aggregator.domain.recipient import RecipientConfig
from tests.fakes import T0


def record_deliveries(config_path: Path) -> None:
    """Ana's digest sent on day 1, Ben's refused, and Ana's of day 2 of unknown fate."""
    with build_app(load_config(config_path), connectors={}) as app:
        repo, lease = app.repo, timedelta(minutes=5)
        sent = repo.claim_delivery("ana@school.org", date(2026, 12, 1), T0, lease)
        assert sent is not None
        repo.mark_unknown(sent, "<a1@school.org>", T0, 3, T0)
        repo.mark_sent(sent, T0)
        refused = repo.claim_delivery("ben@school.org", date(2026, 12, 1), T0, lease)
        assert refused is not None
        repo.mark_failed(refused, "550 <script>alert(1)</script> mailbox unknown")
        unknown = repo.claim_delivery("ana@school.org", date(2026, 12, 2), T0, lease)
        assert unknown is not None
        repo.mark_unknown(unknown, "<a2@school.org>", T0, 3, T0)


def test_deliveries_need_an_admin(client: FlaskClient) -> None:
    response = client.get("/admin/deliveries")
    assert response.status_code == 302
    assert "/admin/sign-in" in response.headers["Location"]


def test_deliveries_list_the_latest_day_first_with_what_to_do(
    web_config: Path, admin_client: FlaskClient
) -> None:
    record_deliveries(web_config)
    body = admin_client.get("/admin/deliveries").get_data(as_text=True)
    rows = body.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 3
    assert "2026-12-02" in rows[0] and "unknown" in rows[0] and "&lt;a2@school.org&gt;" in rows[0]
    assert "ana@school.org" in rows[1] and "sent" in rows[1]
    assert "ben@school.org" in rows[2] and "failed" in rows[2]
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body
    assert 'aria-current="page">Deliveries</a>' in body


def test_no_deliveries_yet_says_so(admin_client: FlaskClient) -> None:
    body = admin_client.get("/admin/deliveries").get_data(as_text=True)
    assert "No digest has been sent yet." in body


def test_recent_deliveries_newest_day_first_up_to_the_limit(db_url: str) -> None:
    from aggregator.store.repository import Repository

    with Repository.open(db_url) as repo:
        repo.sync_recipients(
            [RecipientConfig(email=e, timezone="UTC") for e in ("a@school.org", "b@school.org")]
        )
        for day in (1, 2, 3):
            for email in ("b@school.org", "a@school.org"):
                assert repo.claim_delivery(email, date(2026, 12, day), T0, timedelta(minutes=5))
        recent = repo.recent_deliveries(3)
    assert [(d.email, d.local_day.day) for d in recent] == [
        ("a@school.org", 3),
        ("b@school.org", 3),
        ("a@school.org", 2),
    ]

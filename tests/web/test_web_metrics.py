"""`/metrics` on the web server: Prometheus's text, open to a scraper without
signing in, and the counters move after a fetch and a send."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from aggregator.app.config import load_config
from aggregator.app.ingest import fetch_sources
from aggregator.app.mailer import FileMailer
from aggregator.app.send import send_due_digests
from aggregator.app.wiring import build_app
from aggregator.domain.errors import FetchError
from aggregator.domain.source import FetchResult
from tests.fakes import FakeConnector, FixedClock, make_post

# 06:45 in Madrid: Ana's digest (06:30 by default) is due.
MORNING = datetime(2026, 11, 30, 5, 45, tzinfo=UTC)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient) -> Samples:
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.get_data(as_text=True))
        for s in family.samples
    }


def test_a_scrape_after_a_fetch_and_a_send_shows_the_counters_moved(
    client: FlaskClient, web_config: Path, tmp_path: Path
) -> None:
    before = scrape(client)
    connector = FakeConnector(
        script={
            "edu-blog": [FetchResult((make_post("edu-blog", 1, at=MORNING - timedelta(hours=2)),))],
            "maths": [FetchError("maths", "connection refused: is the server down?")],
        }
    )
    config = load_config(web_config)
    config = dataclasses.replace(
        config, email=dataclasses.replace(config.email, backend="file", folder=str(tmp_path))
    )
    with build_app(config, FixedClock(MORNING), connectors={"rss": connector}) as app:
        fetch_sources(app)
        outcomes = send_due_digests(app, FileMailer(tmp_path))
    assert [(o.email, o.status) for o in outcomes] == [("ana@school.org", "sent")]
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("pln_fetches_total", outcome="ok") == 1
    assert moved("pln_fetches_total", outcome="error") == 1
    assert moved("pln_fetch_errors_total", kind="rss") == 1
    assert moved("pln_digests_sent_total") == 1
    assert "ana@school.org" not in client.get("/metrics").get_data(as_text=True)

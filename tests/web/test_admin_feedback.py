"""`/admin/feedback`: what teachers value, per source, for signed-in admins
only; counts, never who."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from aggregator.app.config import load_config
from aggregator.app.feedback import record_feedback
from aggregator.app.links import FeedbackTarget
from aggregator.app.wiring import build_app


def test_admins_see_how_many_teachers_want_more_or_less_of_each_source(
    admin_client: FlaskClient, web_config: Path
) -> None:
    with build_app(load_config(web_config), connectors={}) as app:
        record_feedback(app, FeedbackTarget("ana@school.org", "maths", "m-1"), more=True)
        record_feedback(app, FeedbackTarget("ben@school.org", "maths", "m-2"), more=True)
        record_feedback(app, FeedbackTarget("ben@school.org", "edu-blog", "b-1"), more=False)
    html = admin_client.get("/admin/feedback").get_data(as_text=True)
    assert "<tr><td>Maths teachers</td><td>2</td><td>0</td></tr>" in html
    assert "<tr><td>An education blog</td><td>0</td><td>1</td></tr>" in html
    assert "ana@" not in html.replace("admin@", "") and "ben@" not in html


def test_the_feedback_page_is_for_admins_only(client: FlaskClient) -> None:
    response = client.get("/admin/feedback")
    assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]

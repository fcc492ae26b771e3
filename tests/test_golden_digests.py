"""Golden text digests of the demo's sample recipients (STYLE.md §9).

The demo's feeds are dated relative to the clock, so with a fixed clock the
whole pipeline — fetch, store, cluster, rank, budget, render — must give
these exact texts. A deliberate change of the digest updates them:
PLN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_digests.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from aggregator import load_config
from aggregator.app.build import render_digest_for
from aggregator.app.wiring import build_app
from aggregator.run.demo.pipeline import run_demo
from tests.fakes import FixedClock

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Each demo recipient's digest as (email, "text" or "html") -> what is sent."""
    out = tmp_path_factory.mktemp("demo")
    clock = FixedClock()
    run_demo(out, clock=clock)
    with build_app(load_config(out / "config.toml"), clock=clock, connectors={}) as app:
        return {
            (r.email, fmt): render_digest_for(app, r.email, fmt)
            for r in app.config.recipients
            for fmt in ("text", "html")
        }


@pytest.fixture(scope="module")
def texts(rendered: dict[tuple[str, str], str]) -> dict[str, str]:
    return {email: body for (email, fmt), body in rendered.items() if fmt == "text"}


@pytest.mark.parametrize("email", ["ana@school.example", "luis@school.example"])
def test_the_demo_digest_reads_as_it_always_did(texts: dict[str, str], email: str) -> None:
    golden = GOLDEN / f"demo_{email.split('@')[0]}.txt"
    if os.environ.get("PLN_UPDATE_GOLDEN"):
        golden.write_text(texts[email], encoding="utf-8")
    assert texts[email] == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("email", ["ana@school.example", "luis@school.example"])
def test_the_demo_digest_shows_its_top_stories_pictures(
    rendered: dict[tuple[str, str], str], email: str
) -> None:
    html = rendered[(email, "html")]
    pictures = re.findall(r'<img class="image"[^>]*src="(https://[^"]+)"', html)
    assert pictures, "the demo feeds name pictures for some of the top stories"
    assert all(p.endswith((".jpg", ".png")) for p in pictures)


@pytest.mark.parametrize("email", ["ana@school.example", "luis@school.example"])
def test_the_demo_digest_states_its_reading_time_truly(texts: dict[str, str], email: str) -> None:
    text = texts[email]
    match = re.search(r"about (\d+)([¼½¾]?) min read", text)
    assert match
    stated = int(match.group(1)) + {"": 0, "¼": 0.25, "½": 0.5, "¾": 0.75}[match.group(2)]
    actual = len(text.split()) / 238  # every word, as `wc -w` counts
    assert abs(stated - actual) <= 0.1 * actual

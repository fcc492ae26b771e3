"""Golden text digests of the demo's sample recipients (STYLE.md §9).

The demo's feeds are dated relative to the clock, so with a fixed clock the
whole pipeline — fetch, store, cluster, rank, budget, render — must give
these exact texts. A deliberate change of the digest updates them:
PLN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_digests.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aggregator import load_config
from aggregator.app.build import render_digest_for
from aggregator.app.wiring import build_app
from aggregator.run.demo.pipeline import run_demo
from tests.fakes import FixedClock

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("demo")
    clock = FixedClock()
    run_demo(out, clock=clock)
    with build_app(load_config(out / "config.toml"), clock=clock, connectors={}) as app:
        return {r.email: render_digest_for(app, r.email, "text") for r in app.config.recipients}


@pytest.mark.parametrize("email", ["ana@school.example", "luis@school.example"])
def test_the_demo_digest_reads_as_it_always_did(texts: dict[str, str], email: str) -> None:
    golden = GOLDEN / f"demo_{email.split('@')[0]}.txt"
    if os.environ.get("PLN_UPDATE_GOLDEN"):
        golden.write_text(texts[email], encoding="utf-8")
    assert texts[email] == golden.read_text(encoding="utf-8")

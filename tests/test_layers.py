"""Imports point inwards (STYLE.md §1): checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_DIGEST_MODULES = {
    "select", "rank", "budget", "render", "digest", "canonical", "cluster", "spam", "choose",
    "explain",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _project_imports(path: Path) -> set[str]:
    roots = ("aggregator", "connectors", "digests", "sqlalchemy", "alembic")
    return {name for name in _imports(path) if name.split(".")[0] in roots}


@pytest.mark.parametrize("path", sorted((ROOT / "connectors").glob("*.py")), ids=lambda p: p.name)
def test_connectors_never_touch_storage_or_orchestration(path: Path) -> None:
    allowed = {"aggregator.domain.models", "aggregator.domain.errors", "connectors.sanitize", "aggregator.config.load"}
    imported = _project_imports(path)
    bad = {m for m in imported if m.split(".")[0] != "connectors" and m not in allowed}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "digests").glob("*.py") if p.stem in PURE_DIGEST_MODULES),
    ids=lambda p: p.name,
)
def test_pure_digest_modules_import_models_only(path: Path) -> None:
    allowed = {"aggregator.domain.models"} | {f"digests.{m}" for m in PURE_DIGEST_MODULES}
    bad = _project_imports(path) - allowed
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_only_storage_imports_sqlalchemy() -> None:
    """storage.py, its storage_*.py parts and tables.py; nothing else."""
    offenders = []
    for path in list((ROOT / "aggregator").glob("*.py")) + list((ROOT / "connectors").glob("*.py")) \
            + list((ROOT / "digests").glob("*.py")):
        if path.stem in ("storage", "tables") or path.stem.startswith("storage_"):
            continue
        if any(m.split(".")[0] in ("sqlalchemy", "alembic") for m in _imports(path)):
            offenders.append(path.name)
    assert offenders == []

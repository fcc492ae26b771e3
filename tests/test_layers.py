"""The folders are layers and imports point one way, down (docs/architecture.md).

Read from the source with `ast`, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN, CONFIG, STORE = "aggregator/domain", "aggregator/config", "aggregator/store"
APP, RUN, WEB = "aggregator/app", "aggregator/run", "aggregator/run/web"
CONNECTORS, DIGESTS, TEMPLATES = "connectors", "digests", "templates"

# Which folders each folder may import. Anything not listed is refused.
ALLOWED: dict[str, set[str]] = {
    DOMAIN: set(),
    CONFIG: {DOMAIN},
    STORE: {DOMAIN},
    CONNECTORS: {DOMAIN, CONFIG},
    DIGESTS: {DOMAIN},
    TEMPLATES: set(),
    APP: {DOMAIN, CONFIG, STORE, CONNECTORS, DIGESTS},
    # The entry points reach the database through the app's Repository object.
    RUN: {DOMAIN, CONFIG, CONNECTORS, DIGESTS, APP, WEB},
    # The web pages: served by `pln serve` and `pln run`, never importing them.
    WEB: {DOMAIN, CONFIG, CONNECTORS, APP},
}
# The package roots themselves: `aggregator/__init__.py` names the public API
# (lazily, by module path), `connectors/__init__.py` is the REGISTRY.
ROOT_FILES = {"aggregator/__init__.py"}
MAX_MODULE_LINES = 450
DATABASE_LIBRARIES = ("sqlalchemy", "alembic")


def _folder_of(module: str) -> str | None:
    path = module.replace(".", "/")
    for folder in sorted(ALLOWED, key=len, reverse=True):
        if path == folder or path.startswith(folder + "/"):
            return folder
    return None


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from connectors import rss` imports the sub-package
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _edges() -> dict[tuple[str, str], list[str]]:
    """(from folder, to folder) -> the imports that make that edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for folder in ALLOWED:
        for path in _modules(folder):
            for module in _imported_modules(path):
                target = _folder_of(module)
                if target is not None and target != folder:
                    where = f"{path.relative_to(ROOT)} imports {module}"
                    edges.setdefault((folder, target), []).append(where)
    return edges


def test_every_import_follows_an_allowed_edge() -> None:
    bad = [
        where
        for (source, target), places in _edges().items()
        if target not in ALLOWED[source]
        for where in places
    ]
    assert bad == []


def test_the_allowed_edges_have_no_cycle() -> None:
    try:
        order = list(TopologicalSorter(ALLOWED).static_order())
    except CycleError as exc:  # pragma: no cover - only on a bad edit of ALLOWED
        pytest.fail(f"layers import each other: {exc.args[1]}")
    assert order.index(DOMAIN) < order.index(APP) < order.index(WEB) < order.index(RUN)


def test_every_package_module_lives_in_a_layer() -> None:
    """A new file at a package's top would escape the table above."""
    loose = [
        str(path.relative_to(ROOT))
        for package in ("aggregator", "connectors", "digests")
        for path in (ROOT / package).glob("*.py")
        if _folder_of(str(path.relative_to(ROOT).with_suffix(""))) is None
        and str(path.relative_to(ROOT)) not in ROOT_FILES
    ]
    assert loose == []


def test_only_the_store_imports_the_database_libraries() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ALLOWED
        if folder != STORE
        for path in _modules(folder)
        if any(m.split(".")[0] in DATABASE_LIBRARIES for m in _imported_modules(path))
    ]
    assert offenders == []


def test_no_module_is_longer_than_the_size_guide() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in ALLOWED
        for path in _modules(folder)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}

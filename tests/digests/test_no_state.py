"""The digest is pure: nothing is remembered between calls in module state.

A memo that speeds up a batch of digests belongs to the caller, who makes
it and passes it in (`digests.memo.DigestMemo`); what is cheap and worth
indexing (canonical URL, story keys) is worked out when the post is stored.
"""

from __future__ import annotations

import ast
from pathlib import Path

DIGESTS = Path(__file__).resolve().parents[2] / "digests"
# Built once because they depend on no input: the Jinja2 environment and
# the CSS inliner.
RESOURCES = {("render.py", "_environment"), ("render.py", "_inliner")}


def _name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def test_no_function_in_digests_is_cached_in_module_state() -> None:
    cached = {
        (path.name, node.name)
        for path in sorted(DIGESTS.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_name(d) in ("cache", "lru_cache") for d in node.decorator_list)
    }
    assert cached == RESOURCES

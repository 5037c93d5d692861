"""The code base stays `ruff check` and `ruff format` clean (configured in pyproject.toml)."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff(args):
    proc = subprocess.run(["ruff", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef]]:
    """Module-level functions not named ``_...``, and the public methods (and ``__init__``) of
    public classes."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append((node.name, node))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                if not item.name.startswith("_") or item.name == "__init__":
                    found.append((f"{node.name}.{item.name}", item))
    return found


def _missing_hints(function: ast.FunctionDef) -> list[str]:
    a = function.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
    missing = [p.arg for p in params if p.annotation is None and p.arg not in ("self", "cls")]
    if function.returns is None and function.name != "__init__":
        missing.append("return")
    return missing


def test_public_functions_of_the_grader_have_type_hints():
    found = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        for name, function in _public_functions(ast.parse(path.read_text(encoding="utf-8"))):
            if missing := _missing_hints(function):
                where = f"{path.relative_to(ROOT)}:{function.lineno}"
                found.append(f"{where} {name}: no hint for {', '.join(missing)}")
    assert not found, "\n".join(found)


def test_the_hint_check_finds_a_missing_hint():
    tree = ast.parse("def f(x, y: int): ...\nclass C:\n    def m(self, z) -> None: ...\n")
    assert [(n, _missing_hints(f)) for n, f in _public_functions(tree)] == [
        ("f", ["x", "return"]),
        ("C.m", ["z"]),
    ]

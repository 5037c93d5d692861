"""Take the known mistakes' model code out of a copied ``grader/topics`` (AST rewrite).

In a release a mistake is named by its recorded fingerprint (``grader.release.replay``), so
its model, the judge-side code that makes the mistake, must not ship. Two sources say which code
that is: every ``Misconception(...)``'s ``variant`` argument (a lambda, a module function, or
the functions a factory call returns), found statically, and the functions of grader/topics
that ran inside a model during recording and nowhere else (``record.Recorded.model_code``).
Their bodies are replaced by ``raise NotImplementedError(NOT_SHIPPED)`` (lambdas by ``None``),
and every ``variant`` argument by ``None``; everything else of the module is unchanged (its
source is unparsed from the AST, so comments go).
"""

from __future__ import annotations

import ast
from pathlib import Path

NOT_SHIPPED = "a known mistake's model: not in the student release"
Code = tuple[str, int, str]


def _is_misconception(node: ast.Call) -> bool:
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "Misconception") or (
        isinstance(f, ast.Attribute) and f.attr == "Misconception"
    )


def _variant_arg(node: ast.Call) -> ast.expr | None:
    if len(node.args) > 3:
        return node.args[3]
    return next((k.value for k in node.keywords if k.arg == "variant"), None)


def _set_variant_none(node: ast.Call) -> None:
    if len(node.args) > 3:
        node.args[3] = ast.Constant(None)
    for k in node.keywords:
        if k.arg == "variant":
            k.value = ast.Constant(None)


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> int:
    decorators = getattr(node, "decorator_list", [])
    return decorators[0].lineno if decorators else node.lineno


def _nested(node: ast.AST) -> list[ast.AST]:
    return [
        n for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not node
    ]


def model_nodes(tree: ast.Module, traced: set[tuple[int, str]]) -> list[ast.AST]:
    """The function and lambda nodes of ``tree`` that are mistake models (module docstring)."""
    top = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_misconception(node):
            arg = _variant_arg(node)
            if isinstance(arg, ast.Lambda):
                found.append(arg)
            elif isinstance(arg, ast.Name) and arg.id in top:
                found.append(top[arg.id])
            elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name):
                factory = top.get(arg.func.id)
                if factory is not None:  # what it returns is the model
                    found += _nested(factory)
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            name = node.name if isinstance(node, ast.FunctionDef) else "<lambda>"
            if (_first_line(node), name) in traced:
                found.append(node)
    return found


def _hollow(node: ast.AST) -> None:
    if isinstance(node, ast.Lambda):
        node.body = ast.Constant(None)
    elif isinstance(node, ast.FunctionDef):
        node.body = [
            ast.Raise(
                exc=ast.Call(
                    ast.Name("NotImplementedError", ast.Load()), [ast.Constant(NOT_SHIPPED)], []
                ),
                cause=None,
            )
        ]


def strip_file(path: Path, traced: set[tuple[int, str]]) -> int:
    """Rewrite ``path`` in place; return how many models were hollowed (0: file unchanged)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    models = model_nodes(tree, traced)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_misconception(n)]
    if not models and not calls:
        return 0
    for node in models:
        _hollow(node)
    for call in calls:
        _set_variant_none(call)
    path.write_text(ast.unparse(ast.fix_missing_locations(tree)) + "\n", encoding="utf-8")
    return len(models)


def strip_topics(topics_dir: Path, model_code: set[Code]) -> dict[str, int]:
    """Strip every module of a copied ``grader/topics``; file -> models hollowed."""
    done = {}
    for path in sorted(topics_dir.rglob("*.py")):
        rel = str(path.relative_to(topics_dir))
        traced = {(line, name) for f, line, name in model_code if f == rel}
        if n := strip_file(path, traced):
            done[rel] = n
    return done


def model_sources(topics_dir: Path, model_code: set[Code]) -> list[str]:
    """``ast.dump`` of every model's body in an (unstripped) ``grader/topics``, for the leak
    scan: none of them may appear in a release."""
    dumps = []
    for path in sorted(topics_dir.rglob("*.py")):
        rel = str(path.relative_to(topics_dir))
        traced = {(line, name) for f, line, name in model_code if f == rel}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in model_nodes(tree, traced):
            body = node.body if isinstance(node, ast.FunctionDef) else [node.body]
            dumps.append("".join(ast.dump(b) for b in body))
    return dumps

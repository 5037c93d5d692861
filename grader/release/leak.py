"""The leak scan of a release: what must never reach a student kit, looked for in every file of
the folder and of its zip.

Findings: a function or method whose body (docstring aside) is the body of a function of
``solutions/`` (every function and method there, the naive references included, compared as
ASTs, so renaming or reformatting hides nothing; bodies the stubs in ``assignments/`` give out
as provided code are public by design); a known mistake's model body
(``grader.release.strip.model_sources``); any bytecode (``.pyc``: the kit ships sources only,
so nothing needs decompiling); a hidden check's id; a check in the data that is not visible;
the course secret, its fingerprint or its answer seal when the secret is not the public one;
and the folders and files that stay with the instructor (solutions, tests, examples,
soundness, the answer cache, the secret file).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.config import Course
from grader.judge.seeds import secret_id
from grader.release import PUBLIC, strip

MIN_NODES = 8  # a body smaller than this (``return x``) says nothing of where it came from
STAY = ("solutions", "tests", "examples", "soundness", ".grader-cache", ".grader-secret", ".git")
TEXT = (".py", ".json", ".md", ".yml", ".yaml", ".toml", ".ipynb", ".txt", ".cfg")


@dataclass(frozen=True)
class Finding:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _body_dump(node: ast.AST) -> str | None:
    body = list(node.body) if not isinstance(node, ast.Lambda) else [node.body]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            body = body[1:]  # the docstring: stubs share it with the solutions
    if sum(1 for b in body for _ in ast.walk(b)) < MIN_NODES:
        return None
    return "".join(ast.dump(b) for b in body)


def functions(source: str) -> Iterator[tuple[str, str]]:
    """(qualified-ish name, body dump) of every function and method of ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            dump = _body_dump(node)
            if dump is not None:
                yield node.name, dump


@dataclass(frozen=True)
class Known:
    """What the scan looks for, read from the instructor's tree."""

    solution_bodies: dict[str, str]  # body dump -> "solutions/<file>: <function>"
    model_bodies: frozenset[str]
    hidden_ids: tuple[str, ...]
    visible_ids: frozenset[str]
    secrets: tuple[str, ...]

    @classmethod
    def of(cls, course: Course, model_code: set) -> Known:
        from grader import registry
        from grader.release.build import PACKAGE

        given = {  # code the stubs hand out as given (helpers, operators): public by design
            dump
            for path in sorted(course.assignments_dir.rglob("*.py"))
            for _, dump in functions(path.read_text(encoding="utf-8"))
        }
        bodies = {}
        for path in sorted(course.solutions_dir.rglob("*.py")):
            for name, dump in functions(path.read_text(encoding="utf-8")):
                if dump not in given:
                    bodies.setdefault(dump, f"solutions/{path.name}: {name}")
        hidden, visible = [], set()
        for topic in course.topics:
            for plan in course.plans[topic]:
                (
                    visible.add(plan.check_id)
                    if plan.visibility == "visible"
                    else hidden.append(plan.check_id)
                )
        for spec in registry.topics(course.topics):
            hidden += [c.id for c in spec.checks if c.hidden]
        secrets: tuple[str, ...] = ()
        if course.secret != PUBLIC:
            seal = hashlib.sha256(b"expected answers\0" + course.secret.encode()).hexdigest()
            secrets = (course.secret, secret_id(course.secret), seal)
        models = frozenset(strip.model_sources(PACKAGE / "topics", model_code))
        return cls(bodies, models, tuple(sorted(set(hidden))), frozenset(visible), secrets)


def _members(folder: Path) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every file of the folder and of its zip beside it."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), path.read_bytes()
    archive = folder.with_name(folder.name + ".zip")
    if archive.is_file():
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield f"{archive.name}!{info.filename}", z.read(info)


def _scan_python(where: str, data: bytes, known: Known) -> Iterator[Finding]:
    try:
        found = list(functions(data.decode("utf-8")))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        yield Finding(where, "a .py file that does not parse (cannot be checked)")
        return
    for name, dump in found:
        if dump in known.solution_bodies:
            yield Finding(where, f"{name} has the body of {known.solution_bodies[dump]}")
        if dump in known.model_bodies:
            yield Finding(where, f"{name} is a known mistake's model (judge-side code)")


def _scan_data(where: str, data: bytes, known: Known) -> Iterator[Finding]:
    manifest = json.loads(data)
    for part in manifest.get("topics", {}).values():
        for check in part.get("checks", {}):
            if check not in known.visible_ids:
                yield Finding(where, f"answers of {check!r}, which is not a visible check")


def scan(folder: Path, course: Course, known: Known) -> list[Finding]:
    """Every finding in ``folder`` and ``folder.zip`` (module docstring); empty: no leak."""
    findings: list[Finding] = []
    for where, data in _members(folder):
        parts = Path(where.split("!")[-1]).parts
        if any(p in STAY for p in parts):
            findings.append(Finding(where, "instructor-only material"))
        if where.endswith((".pyc", ".pyo")) or "__pycache__" in parts:
            findings.append(Finding(where, "bytecode (a release ships sources only)"))
            continue
        if where.endswith(".py"):
            findings += _scan_python(where, data, known)
        if where.endswith("data/manifest.json"):
            findings += _scan_data(where, data, known)
        if where.endswith(TEXT) or where.endswith(".npz"):
            text = data.decode("utf-8", "replace") if where.endswith(TEXT) else ""
            if where.endswith(".npz"):  # its member names (the arrays are numbers)
                text = " ".join(zipfile.ZipFile(io.BytesIO(data)).namelist())
            for check in known.hidden_ids:
                if check in text:
                    findings.append(Finding(where, f"names the hidden check {check!r}"))
            for secret in known.secrets:
                if secret and secret in text:
                    findings.append(Finding(where, "holds the course secret or its fingerprint"))
    return findings

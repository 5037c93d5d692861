"""``grader validate``: the course is consistent.

- stubs and solutions define the same functions, classes and methods with the same signatures
  and docstrings, and every stub is what ``grader.stubs`` generates from its solution;
- the reference solutions earn every point of every check (hidden ones included);
- the untouched stubs earn zero, each check with outcome ``not_implemented``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.checks.base import Outcome
from grader.config import Course
from grader.layouts.kit import Submission
from grader.pipeline import SubmissionReport, grade_submission
from grader.stubs import stub_drift


@dataclass(frozen=True)
class Validation:
    problems: tuple[str, ...]
    solutions: SubmissionReport
    stubs: SubmissionReport

    @property
    def ok(self) -> bool:
        return not self.problems


def _api(path: Path) -> dict[str, tuple[str, str | None]]:
    """name -> (signature text, docstring) for top-level functions, classes and their methods."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    api: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            api[node.name] = (ast.unparse(node.args), ast.get_docstring(node))
        elif isinstance(node, ast.ClassDef):
            api[node.name] = ("class", ast.get_docstring(node))
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    api[f"{node.name}.{item.name}"] = (
                        ast.unparse(item.args),
                        ast.get_docstring(item),
                    )
    return api


def api_problems(course: Course, topics: tuple[str, ...]) -> list[str]:
    problems = []
    for topic in topics:
        sol, stub = course.solutions_dir / f"{topic}.py", course.assignments_dir / f"{topic}.py"
        if not sol.is_file():
            problems.append(f"{topic}: {sol} is missing (the reference solution of the topic)")
            continue
        if not stub.is_file():
            problems.append(f"{topic}: {stub} is missing")
            continue
        a, b = _api(sol), _api(stub)
        for name in sorted(set(a) | set(b)):
            if name not in b:
                problems.append(f"{topic}: {name} is in solutions but not in the stub")
            elif name not in a:
                problems.append(f"{topic}: {name} is in the stub but not in solutions")
            elif a[name][0] != b[name][0]:
                problems.append(
                    f"{topic}: {name} signature differs: ({a[name][0]}) vs ({b[name][0]})"
                )
            elif a[name][1] != b[name][1]:
                problems.append(f"{topic}: {name} docstring differs between solution and stub")
    present = [t for t in topics if (course.solutions_dir / f"{t}.py").is_file()]
    for topic in stub_drift(course.solutions_dir, course.assignments_dir, present):
        problems.append(
            f"{topic}: assignments/{topic}.py is not the stub generated from "
            f"solutions/{topic}.py (run: python -m grader.stubs)"
        )
    return problems


def validate(
    course: Course, topics: tuple[str, ...], on_step: Callable[[str], None] | None = None
) -> Validation:
    """Validate ``topics``; ``on_step(text)`` says what is being graded (for a progress line)."""
    step = on_step or (lambda text: None)
    problems = api_problems(course, topics)
    topics = tuple(t for t in topics if (course.solutions_dir / f"{t}.py").is_file())

    def kit(folder: Path, name: str) -> Submission:
        return Submission(
            name, folder, {t: folder / f"{t}.py" for t in topics if (folder / f"{t}.py").is_file()}
        )

    solutions = grade_submission(
        course,
        kit(course.solutions_dir, "solutions"),
        topics,
        on_topic=lambda t: step(f"grading the solutions: {t}"),
    )
    for r in solutions.results:
        if not r.passed and r.outcome is not Outcome.NOT_RUN:
            first = (r.message or r.outcome.value).splitlines()[0]
            problems.append(f"solutions fail {r.check_id}: {r.outcome.value}: {first}")
    stubs = grade_submission(
        course,
        kit(course.assignments_dir, "stubs"),
        topics,
        on_topic=lambda t: step(f"grading the stubs: {t}"),
    )
    for r in stubs.results:  # a check that cannot run on this machine (no CUDA) is not_run
        if r.outcome not in (Outcome.NOT_IMPLEMENTED, Outcome.NOT_RUN):
            problems.append(
                f"stub check {r.check_id} gives {r.outcome.value}, expected not_implemented"
            )
    if stubs.score:
        problems.append(f"stubs earn {stubs.score:g} points, expected 0")
    return Validation(tuple(problems), solutions, stubs)

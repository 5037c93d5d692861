"""``grader validate``: the course is consistent.

- stubs and solutions define the same functions, classes and methods with the same signatures
  and docstrings, and every stub is what ``grader.stubs`` generates from its solution;
- the reference solutions earn every point of every check (hidden ones included);
- the untouched stubs earn zero, each check with outcome ``not_implemented``.

``validate_release`` (``grader validate --release DIR``) does the same for a student release:
its stubs earn zero and the solutions earn every public point from its data, both graded by
the release's own grader, and its data is what the current solutions compute.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.checks.base import Outcome
from grader.config import CONFIG_NAME, ConfigError, Course, load
from grader.judge.expected import key_of
from grader.layouts.kit import Submission
from grader.pipeline import SubmissionReport, grade_submission
from grader.release import DataProblem
from grader.release.data import decode, read_manifest, read_topic
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


def _kit_results(kit: Path, submission: Path) -> list[dict]:
    """The public checks of ``kit`` on ``submission``, graded by the kit's own grader."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SECRET"}
    env["PYTHONPATH"] = str(kit.resolve())
    done = subprocess.run(
        [sys.executable, "-m", "grader.release.selfcheck", str(kit), str(submission)],
        env=env,
        cwd=kit,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise DataProblem(f"the release's grader failed on {submission.name}: {tail[0]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _entry_key(entry: dict, arrays: Any) -> str:
    if "raised" in entry:
        return "raised:" + ":".join(entry["raised"])
    values = tuple(decode(entry[k], arrays) for k in ("result", "after", "state"))
    return key_of("entry", values, {})


def stale_data(course: Course, kit: Path, topics: tuple[str, ...]) -> list[str]:
    """What in the kit's data differs from what the current solutions compute (one line per
    check, naming it); the stubs' API as shipped against the current stubs."""
    from grader.release import DATA, record

    problems = []
    shipped = read_manifest(kit / DATA)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = record.record(course, topics, Path(scratch), examples=False)
        for topic in topics:
            if topic not in shipped["topics"]:
                problems.append(f"{topic}: not in the release (rebuild: grader release)")
                continue
            old_entries, old_arrays = read_topic(kit / DATA, topic, shipped)
            new_entries, new_arrays = read_topic(Path(scratch), topic, fresh.manifest)
            api = kit / DATA / "api" / f"{topic}.py"
            stub = course.assignments_dir / f"{topic}.py"
            if not api.is_file() or api.read_bytes() != stub.read_bytes():
                problems.append(f"{topic}: the release's stub differs from {stub}")
            old_checks = shipped["topics"][topic]["checks"]
            for check, keys in fresh.manifest["topics"][topic]["checks"].items():
                if check not in old_checks:
                    problems.append(f"stale data: {check} is not in the release")
                    continue
                for key in keys:
                    old = old_entries.get(key)
                    if old is None or _entry_key(old, old_arrays) != _entry_key(
                        new_entries[key], new_arrays
                    ):
                        problems.append(
                            f"stale data: {check}: the release's answers differ from what "
                            "the current solutions compute (rebuild: grader release)"
                        )
                        break
    return problems


def validate_release(
    course: Course, kit: Path, on_step: Callable[[str], None] | None = None
) -> list[str]:
    """``grader validate --release KIT``: the kit's stubs earn zero (every check
    ``not_implemented``), the solutions earn every public point from the kit's data (graded by
    the kit's own grader), and the data is what the current solutions compute."""
    step = on_step or (lambda text: None)
    try:
        kit_course = load(kit / CONFIG_NAME)
        topics = kit_course.topics
        step("grading the solutions with the release")
        problems = [
            f"solutions fail {r['check']} in the release: {r['outcome']}: {r['message']}"
            for r in _kit_results(kit, course.solutions_dir)
            if r["outcome"] not in ("passed", "not_run")
        ]
        step("grading the release's stubs")
        for r in _kit_results(kit, kit / course.config.assignments):
            if r["outcome"] not in ("not_implemented", "not_run") or r["points"]:
                problems.append(
                    f"release stub check {r['check']} gives {r['outcome']}, expected "
                    "not_implemented"
                )
        step("recording the current solutions' answers")
        problems += stale_data(course, kit, topics)
    except (DataProblem, ConfigError) as exc:
        return [str(exc)]
    return problems

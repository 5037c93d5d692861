"""Mutation testing of the checks: a mutant is a reference solution with one realistic bug.

``assert_caught`` grades the mutant and asserts that the checks of the mutated function catch
it (and name the mistake, where the bug is a known misconception), and that no check of an
unrelated function fails. Each topic keeps its mutants in ``tests/topics/test_<topic>_mutants.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for


@dataclass(frozen=True)
class Mutant:
    topic: str
    function: str
    old: str
    new: str
    misconception: str | None = None

    @property
    def label(self) -> str:
        return f"{self.function}:{self.new.strip()[:30]}"


def mutate(source: str, mutant: Mutant) -> str:
    """Replace the first occurrence of ``old`` inside ``function`` only."""
    start = max(source.find(f"def {mutant.function}("), source.find(f"class {mutant.function}"))
    at = source.find(mutant.old, start)
    assert start >= 0 and at >= 0, f"mutant no longer applies: {mutant.old!r}"
    return source[:at] + mutant.new + source[at + len(mutant.old) :]


def grade_mutant(course, tmp_path: Path, mutant: Mutant) -> list[CheckResult]:
    source = (course.solutions_dir / f"{mutant.topic}.py").read_text()
    path = tmp_path / f"{mutant.topic}.py"
    path.write_text(mutate(source, mutant))
    results, _ = grade_topic(course, mutant.topic, path, None, sandbox_for(course))
    return results


def assert_caught(
    course, tmp_path: Path, mutant: Mutant, callers: Iterable[str] = ()
) -> list[CheckResult]:
    """The mutant loses points on its function, is named when it is a known mistake, and hurts
    no function other than itself and ``callers`` (functions that call the mutated one)."""
    results = grade_mutant(course, tmp_path, mutant)
    mine = [r for r in results if r.function == mutant.function]
    failed = [r for r in mine if not r.passed]
    assert failed, f"no check of {mutant.function} caught the mutant"
    assert all(r.outcome in (Outcome.WRONG, Outcome.BAD_OUTPUT, Outcome.EXCEPTION) for r in failed)
    if mutant.misconception:
        named = {r.misconception for r in failed}
        assert mutant.misconception in named, f"named {named}"
    others = [
        r.check_id
        for r in results
        if r.function not in {mutant.function, *callers} and not r.passed
    ]
    assert not others, f"unrelated checks failed: {others[:5]}"
    return results

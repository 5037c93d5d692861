"""dave's dropout.py (examples/submissions/dave) reads p as the drop probability: every failing
forward check names that mistake (or, for the one check that passes an unknown mode, his bare
``else:`` that runs it as test mode), and the checks that do not depend on p pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics import dropout as d

STUDENT = "dave"
DAVE = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "dropout.py"
# function -> the mistakes its bugs match
MISTAKES = {d.FORWARD: {d.P_AS_DROP, d.MODE_UNCHECKED}}
# dave's backward pass is right, but fed his forward's mask it fails, named after that mistake
INHERITED = {d.BACKWARD: {d.P_AS_DROP}}


@pytest.fixture(scope="module")
def results(course):
    found, _ = grade_topic(course, "dropout", DAVE, None, sandbox_for(course))
    return found


def test_the_mistake_is_named_in_every_failing_check(results):
    failed = [r for r in results if not r.passed]
    assert {r.function for r in failed} == {*MISTAKES, *INHERITED}
    assert all(r.outcome is Outcome.WRONG for r in failed)
    for function, mistakes in {**MISTAKES, **INHERITED}.items():
        assert {r.misconception for r in failed if r.function == function} == mistakes
    fraction = next(r for r in failed if "kept fraction is p (p=0.3" in r.check_id)
    assert (
        "kept 0.7" in fraction.message
        and "Hint: p is the probability of KEEPING" in fraction.message
    )


def test_checks_that_do_not_depend_on_p_pass(results):
    passed = {r.check_id.split(": ", 1)[1] for r in results if r.passed}
    for case in (
        "test mode is the identity (p=0.3)",
        "same seed, same output",
        "different seeds, different masks",
        "train: mean of out is the mean of x (p=0.3, 200000 units)",
        "test: dx = dout",
        "numeric gradient, elementwise (seeded mask)",
        "numeric gradient, directional (seeded mask)",
    ):
        assert case in passed, case

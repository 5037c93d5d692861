"""ivan's preprocessing.py (examples/submissions/ivan): four named mistakes.

- normalize_splits computes the statistics on all three splits together (test leakage);
- channel_stats averages per-pixel standard deviations instead of pooling the channel;
- zca_whiten uses the eigenvectors as rows (U.T diag U);
- random_flip reverses H (a vertical flip) instead of W.
Every other function is correct and passes every check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.preprocessing import FUNCTIONS
from grader.topics.preprocessing.mistakes import AVERAGED_STD, LEAKAGE, ROWS, WRONG_FLIP_AXIS

STUDENT = "ivan"
IVAN = (
    Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "preprocessing.py"
)
MISTAKES = {
    "normalize_splits": LEAKAGE,
    "channel_stats": AVERAGED_STD,
    "zca_whiten": ROWS,
    "random_flip": WRONG_FLIP_AXIS,
}
CORRECT = tuple(f for f in FUNCTIONS if f not in MISTAKES)


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "preprocessing", IVAN, None, sandbox_for(course))
    return found


def _failed(results: list[CheckResult], function: str) -> list[CheckResult]:
    return [r for r in results if r.function == function and not r.passed]


@pytest.mark.parametrize("function, mistake", sorted(MISTAKES.items()))
def test_each_mistake_is_named_where_it_is(results, function, mistake):
    failed = _failed(results, function)
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed)
    assert {r.misconception for r in failed} <= {mistake, None}
    named = [r for r in failed if r.misconception == mistake]
    assert named and all(f"looks like a known mistake: {mistake}" in r.message for r in named)


def test_every_failed_reference_comparison_names_the_mistake(results):
    """Not just one check: every comparison with the reference that fails names the mistake."""
    for function, mistake in MISTAKES.items():
        failed = [r for r in _failed(results, function) if r.kind == "reference"]
        assert failed and all(r.misconception == mistake for r in failed), function


@pytest.mark.parametrize("function", CORRECT)
def test_correct_functions_pass(results, function):
    mine = [r for r in results if r.function == function]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]


def test_the_flip_laws_say_what_was_reversed(results):
    law = next(
        r for r in results if r.check_id.endswith("each image unchanged or mirrored (p=0.5)")
    )
    assert not law.passed and "it reversed its rows (a vertical flip)" in law.message
    assert law.misconception == WRONG_FLIP_AXIS
    fraction = next(r for r in results if "flips a fraction p" in r.check_id)
    assert not fraction.passed  # a vertical flip is no mirror: nothing counts as flipped

"""carol's conv.py (examples/submissions/carol): three named mistakes and one slow function.

- conv_backward_naive ignores the stride (windows at (i, j), not (i*stride, j*stride));
- max_pool_backward_naive sends dout to every position of the window;
- conv_backward_fast flips the kernel when computing dx;
- conv_forward_fast is correct but just calls conv_forward_naive: it fails the speed check only.
conv_forward_naive and max_pool_forward_naive are correct.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.conv.mistakes import (
    FLIPPED_IN_BACKWARD,
    POOL_GRADIENT_EVERYWHERE,
    STRIDE_IGNORED,
)

STUDENT = "carol"
CAROL = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "conv.py"
MISTAKES = {
    "conv_backward_naive": STRIDE_IGNORED,
    "max_pool_backward_naive": POOL_GRADIENT_EVERYWHERE,
    "conv_backward_fast": FLIPPED_IN_BACKWARD,
}
CORRECT = ("conv_forward_naive", "max_pool_forward_naive")


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "conv", CAROL, None, sandbox_for(course))
    return found


def _failed(results: list[CheckResult], function: str) -> list[CheckResult]:
    return [r for r in results if r.function == function and not r.passed]


@pytest.mark.parametrize("function, mistake", sorted(MISTAKES.items()))
def test_each_mistake_is_named_where_it_is(results, function, mistake):
    failed = _failed(results, function)
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed)
    assert mistake in {r.misconception for r in failed}
    named = next(r for r in failed if r.misconception == mistake)
    assert f"looks like a known mistake: {mistake}" in named.message


@pytest.mark.parametrize("function", CORRECT)
def test_correct_functions_pass(results, function):
    mine = [r for r in results if r.function == function]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]


def test_slow_fast_forward_fails_only_the_speed_check(results):
    failed = _failed(results, "conv_forward_fast")
    assert [r.kind for r in failed] == ["speed"]
    assert failed[0].outcome is Outcome.WRONG
    assert re.search(r"\(median of [23]\), the reference conv_forward_fast", failed[0].message)
    assert "at most 5x slower allowed" in failed[0].message
    passed = [r for r in results if r.function == "conv_forward_fast" and r.passed]
    assert len(passed) > 10  # every correctness check of the fast forward

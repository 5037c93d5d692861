"""dave's batchnorm.py (examples/submissions/dave): each of his mistakes is named in the failing
checks of its function, the functions he got right pass, and the backward passes fail only
because they are handed the cache of his wrong forward passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics.batchnorm import mistakes as m

STUDENT = "dave"
DAVE = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "batchnorm.py"

MISTAKES = {  # function -> the mistakes its bugs match
    "batchnorm_forward": {m.UNBIASED, m.MOMENTUM_SWAPPED},
    "spatial_batchnorm_forward": {m.SPATIAL_AXES},
}
CORRECT = (
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
)
FED_A_WRONG_CACHE = ("batchnorm_backward", "batchnorm_backward_alt", "spatial_batchnorm_backward")


@pytest.fixture(scope="module")
def results(course):
    found, _ = grade_topic(course, "batchnorm", DAVE, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function", sorted(MISTAKES))
def test_each_mistake_is_named(results, function):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed)
    assert MISTAKES[function] <= {r.misconception for r in failed}
    for r in failed:
        if r.misconception:
            assert "looks like a known mistake" in r.message and "Hint:" in r.message


def test_the_variance_mistake_is_named_where_out_is_compared(results):
    by_case = {
        r.check_id.split(": ", 1)[1]: r for r in results if r.function == "batchnorm_forward"
    }
    assert by_case["train, N=8 D=5"].misconception == m.UNBIASED
    assert "out differs from the reference" in by_case["train, N=8 D=5"].message
    running = by_case["running_mean = momentum * running_mean + (1 - momentum) * mean"]
    assert running.misconception == m.MOMENTUM_SWAPPED
    assert "running_mean" in running.message
    for case in ("test, N=6 D=4", "mode 'eval' raises ValueError", "scale and shift"):
        assert by_case[case].passed, by_case[case].message


@pytest.mark.parametrize("function", CORRECT)
def test_correct_functions_pass(results, function):
    mine = [r for r in results if r.function == function]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]


def test_backward_passes_fail_only_through_the_forward_cache(results):
    spatial = [r for r in results if r.function == "spatial_batchnorm_backward"]
    # dave's spatial backward is the exact gradient of his own (wrong) forward pass: agreeing
    # with a wrong forward earns nothing, and the feedback says the forward is the problem
    gradient = [r for r in spatial if r.kind == "gradient"]
    assert gradient and not any(r.passed for r in gradient)
    for r in gradient:
        assert "spatial_batchnorm_forward is wrong on the inputs of this gradient" in r.message
        assert "does not match your forward" not in r.message
    assert not any(r.passed for r in spatial if r.kind == "reference")
    for function in FED_A_WRONG_CACHE:
        assert all(r.misconception is None for r in results if r.function == function)

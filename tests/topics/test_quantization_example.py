"""grace's realistic quantization submission: each of her four mistakes is named in the failing
checks of its function, and the functions she got right pass every check.

examples/submissions/grace/quantization.py is the reference with four bugs: round-half-up in
quantize, a zero point neither rounded nor clamped in choose_qparams, a straight-through
estimator without the clipping mask, and distillation without the T**2 factor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.quantization import FUNCTIONS
from grader.topics.quantization.affine import HALF_UP, ZP_NOT_INT
from grader.topics.quantization.integer import STE_NO_MASK
from grader.topics.quantization.train import NO_T2

STUDENT = "grace"
GRACE = (
    Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "quantization.py"
)

MISTAKES = {
    "quantize": HALF_UP,
    "choose_qparams": ZP_NOT_INT,
    "fake_quantize_backward": STE_NO_MASK,
    "distillation_loss": NO_T2,
}
# calls grace's choose_qparams, so it inherits that mistake (named where a check catches it)
DEPENDENT = {"choose_qparams_per_channel": ZP_NOT_INT}


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "quantization", GRACE, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function", sorted(MISTAKES))
def test_mistake_is_named(results, function):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    named = [
        r for r in failed if r.visibility == "visible" and r.misconception == MISTAKES[function]
    ]
    assert named, {r.misconception for r in failed}
    assert all("Hint:" in r.message and "tolerance" in r.message for r in named)


def test_inherited_mistake_is_named_where_caught(results):
    """choose_qparams_per_channel is right but calls grace's choose_qparams: whatever fails there
    fails because of (and is named after) the zero point."""
    for function, mistake in DEPENDENT.items():
        failed = [r for r in results if r.function == function and not r.passed]
        assert all(r.misconception == mistake for r in failed if r.visibility == "visible")


def test_correct_functions_pass(results):
    correct = set(FUNCTIONS) - set(MISTAKES) - set(DEPENDENT)
    failing = [r.check_id for r in results if r.function in correct and not r.passed]
    assert not failing, failing
    assert {r.function for r in results} == set(FUNCTIONS)


def test_hidden_failures_are_in_the_mistaken_functions(results):
    hidden = [r for r in results if r.visibility == "hidden" and not r.passed]
    assert hidden and {r.function for r in hidden} <= set(MISTAKES) | set(DEPENDENT)

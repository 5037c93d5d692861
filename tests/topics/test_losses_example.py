"""bob's losses.py (examples/submissions/bob): the checks that catch his mistakes name them and
explain the failure.

bob is correct except for three bugs, one per function in MISTAKES. Each failing check must name
the known mistake, and its message must say the function, the input shapes, the tolerance and,
for array outputs, where the worst error sits. His backprop.py is tested in
test_backprop_example.py; his results.json and feedback.md, graded as one batch, in
tests/test_feedback_misconceptions.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from example_checks import (
    by_id,
    check_names_its_mistake,
    failed,
    failing_checks_name_the_mistake,
    message_contains,
    only_the_bugged_functions_fail,
)

from grader.pipeline import CheckResult, grade_topic, sandbox_for

STUDENT = "bob"
BOB = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "losses.py"

# function -> the misconception its bug matches
MISTAKES = {
    "svm_loss_vectorized": "correct-class margin counted",
    "softmax_loss_naive": "regularisation missing from the loss",
    "softmax_loss_vectorized": "no max-shift before exp",
}

# check -> fragments its message must contain (function and input shapes, tolerance, location)
MESSAGES = {
    "losses/svm_loss_vectorized: random N=8 D=5 C=4 reg=0.1": (
        "svm_loss_vectorized(W (5, 4), X (8, 5)",
        "reg=0.1",
        "tolerance 1e-07",
        "loss: yours",
        "Hint: skip j == y[i]",
    ),
    "losses/softmax_loss_naive: batch of 1 (N=1 D=3 C=5)": (
        "softmax_loss_naive(W (3, 5), X (1, 3)",
        "tolerance 1e-07",
        "loss: yours",
        "Hint: add reg * np.sum(W * W) to the loss",
    ),
    "losses/softmax_loss_naive: numeric dW, elementwise (N=6 D=4 C=3 reg=0.3)": (
        "softmax_loss_naive(W (4, 3), X (6, 4)",
        "numeric gradient of your own loss",
        "tolerance 1e-06",
        "worst at dW[",
    ),
    "losses/softmax_loss_vectorized: large scores (about +1000)": (
        "softmax_loss_vectorized(W (5, 4), X (10, 5)",
        "tolerance 1e-07",
        "yours nan",
        "NaN/inf where the expected value is finite",
        "Hint: subtract the row maximum",
    ),
}


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "losses", BOB, None, sandbox_for(course))
    return found


def test_only_the_bugged_functions_fail(results):
    only_the_bugged_functions_fail(results, MISTAKES)


@pytest.mark.parametrize(("function", "mistake"), MISTAKES.items())
def test_failing_checks_name_the_mistake(results, function, mistake):
    failing_checks_name_the_mistake(results, function, mistake)


@pytest.mark.parametrize("check_id", MESSAGES)
def test_check_names_its_mistake(results, check_id):
    check_names_its_mistake(by_id(results)[check_id], MISTAKES)


@pytest.mark.parametrize(("check_id", "fragments"), MESSAGES.items())
def test_message_says_function_shapes_tolerance_and_where(results, check_id, fragments):
    message_contains(by_id(results)[check_id], fragments)


def test_softmax_without_max_shift_fails_only_on_large_scores(results):
    assert [r.check_id for r in failed(results, "softmax_loss_vectorized")] == [
        "losses/softmax_loss_vectorized: large scores (about +1000)"
    ]


def test_reg_bug_only_shows_when_reg_is_nonzero(results):
    assert by_id(results)["losses/softmax_loss_naive: no regularisation (reg=0)"].passed

"""bob's backprop.py (examples/submissions/bob): the checks that catch his mistakes name them and
explain the failure.

bob is correct except for two bugs, one per function in MISTAKES. Each failing check must name
the known mistake, and its message must say the function, the input shapes, the tolerance and,
for array outputs, where the worst error sits. His losses.py is tested in
test_losses_example.py; his results.json and feedback.md, graded as one batch, in
tests/test_feedback_misconceptions.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from example_checks import (
    by_id,
    check_names_its_mistake,
    failing_checks_name_the_mistake,
    message_contains,
    only_the_bugged_functions_fail,
)

from grader.pipeline import CheckResult, grade_topic, sandbox_for

STUDENT = "bob"
BOB = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "backprop.py"

# function -> the misconception its bug matches
MISTAKES = {
    "relu_backward": "gradient passed through where x <= 0",
    "TwoLayerNet": "L2 term reg*sum(W*W) instead of 0.5*reg*sum(W*W)",
}

# check -> fragments its message must contain (function and input shapes, tolerance, location)
MESSAGES = {
    "backprop/relu_backward: x (3, 4)": (
        "relu_backward(dout (3, 4), cache) after relu_forward(x (3, 4))",
        "tolerance 1e-07",
        "worst at dx[",
        "Hint: multiply dout by the mask (x > 0)",
    ),
    "backprop/relu_backward: numeric gradient, elementwise": (
        "relu_backward(dout (3, 4), cache)",
        "numeric gradient of your own relu_forward",
        "tolerance 1e-06",
        "worst at dx[",
    ),
    "backprop/TwoLayerNet: loss and grads, reg=0.7": (
        "TwoLayerNet(D=5, H=7, C=4, reg=0.7).loss(X (6, 5), y (6,))",
        "tolerance 1e-07",
        "loss: yours",
        "Hint: fc nets use 0.5 * reg * sum(W * W)",
    ),
}


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "backprop", BOB, None, sandbox_for(course))
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


def test_relu_worst_index_is_where_relu_blocks_the_gradient(results):
    """The worst element of a pass-through ReLU gradient is one whose true gradient is 0."""
    message = by_id(results)["backprop/relu_backward: x (3, 4)"].message
    where = re.search(r"worst at dx\[(\d+), (\d+)\]: yours (\S+), expected (\S+)", message)
    assert where, message
    row, col, yours, expected = where.groups()
    assert 0 <= int(row) < 3 and 0 <= int(col) < 4
    assert float(expected) == 0.0 and float(yours) != 0.0


def test_reg_bug_only_shows_when_reg_is_nonzero(results):
    checks = by_id(results)
    assert checks["backprop/TwoLayerNet: loss and grads, reg=0"].passed
    assert not checks["backprop/TwoLayerNet: loss and grads, reg=0.7"].passed

"""bob's realistic mistakes: the checks that catch them name the mistake and explain the failure.

bob (examples/submissions/bob) is correct except for five bugs, one per function below. Each
failing check must name the known mistake, and its message must say the function, the input
shapes, the tolerance and, for array outputs, where the worst error sits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.pipeline import CheckResult, SubmissionReport

REPO = Path(__file__).resolve().parents[1]
BOB = REPO / "examples" / "submissions" / "bob"

# function -> the misconception its bug matches
MISTAKES = {
    "svm_loss_vectorized": "correct-class margin counted",
    "softmax_loss_naive": "regularisation missing from the loss",
    "softmax_loss_vectorized": "no max-shift before exp",
    "relu_backward": "gradient passed through where x <= 0",
    "TwoLayerNet": "L2 term reg*sum(W*W) instead of 0.5*reg*sum(W*W)",
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
def graded(fast_course, tmp_path_factory) -> tuple[Path, SubmissionReport]:
    out = tmp_path_factory.mktemp("bob")
    (report,) = grade_batch(fast_course, [BOB], out, topics=("losses", "backprop"))
    return out / "bob", report


@pytest.fixture(scope="module")
def bob(graded) -> SubmissionReport:
    return graded[1]


def by_id(report: SubmissionReport) -> dict[str, CheckResult]:
    return {r.check_id: r for r in report.results}


def failed(report: SubmissionReport, function: str | None = None) -> list[CheckResult]:
    return [
        r for r in report.results if not r.passed and function in (None, r.function) and r.counts
    ]


def test_only_the_five_bugged_functions_fail(bob):
    assert {r.function for r in failed(bob)} == set(MISTAKES)
    assert all(r.outcome.value == "wrong" for r in failed(bob))


@pytest.mark.parametrize(("function", "mistake"), MISTAKES.items())
def test_failing_checks_name_the_mistake(bob, function, mistake):
    named = {r.misconception for r in failed(bob, function)}
    assert mistake in named
    assert named <= {mistake, None}, f"{function}: unrelated mistakes named: {named}"


@pytest.mark.parametrize("check_id", MESSAGES)
def test_check_names_its_mistake(bob, check_id):
    result = by_id(bob)[check_id]
    assert result.outcome.value == "wrong"
    assert result.misconception == MISTAKES[result.function]
    assert f"looks like a known mistake: {result.misconception}" in result.message


@pytest.mark.parametrize(("check_id", "fragments"), MESSAGES.items())
def test_message_says_function_shapes_tolerance_and_where(bob, check_id, fragments):
    message = by_id(bob)[check_id].message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_relu_worst_index_is_where_relu_blocks_the_gradient(bob):
    """The worst element of a pass-through ReLU gradient is one whose true gradient is 0."""
    message = by_id(bob)["backprop/relu_backward: x (3, 4)"].message
    where = re.search(r"worst at dx\[(\d+), (\d+)\]: yours (\S+), expected (\S+)", message)
    assert where, message
    row, col, yours, expected = where.groups()
    assert 0 <= int(row) < 3 and 0 <= int(col) < 4
    assert float(expected) == 0.0 and float(yours) != 0.0


def test_softmax_without_max_shift_fails_only_on_large_scores(bob):
    assert [r.check_id for r in failed(bob, "softmax_loss_vectorized")] == [
        "losses/softmax_loss_vectorized: large scores (about +1000)"
    ]


def test_reg_bugs_only_show_when_reg_is_nonzero(bob):
    checks = by_id(bob)
    assert checks["backprop/TwoLayerNet: loss and grads, reg=0"].passed
    assert not checks["backprop/TwoLayerNet: loss and grads, reg=0.7"].passed
    assert checks["losses/softmax_loss_naive: no regularisation (reg=0)"].passed


def test_results_json_names_mistakes_on_visible_checks_only(graded):
    folder, bob = graded
    tests = {t["name"]: t for t in json.loads((folder / "results.json").read_text())["tests"]}
    for result in failed(bob):
        test = tests[result.check_id]
        if result.visibility == "visible":
            assert test["extra_data"].get("misconception") == result.misconception
            assert test["output"] == result.message
        else:
            assert "misconception" not in test["extra_data"]
            assert test["output"] == "hidden check: failed"


def test_feedback_md_lists_the_mistakes_per_topic(graded):
    folder, _ = graded
    feedback = (folder / "feedback.md").read_text()
    losses, backprop = feedback.split("## backprop")
    for function, mistake in MISTAKES.items():
        section = backprop if function in ("relu_backward", "TwoLayerNet") else losses
        spotted = next(ln for ln in section.splitlines() if ln.startswith("Known mistakes"))
        assert mistake in spotted
    assert "Hint: skip j == y[i]" in losses
    assert "Hint: multiply dout by the mask (x > 0)" in backprop

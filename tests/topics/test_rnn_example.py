"""frank (examples/submissions/frank/rnn.py) is correct except for three known mistakes, one per
function below: every failing check of those functions names the mistake (or is a gradient
check, which compares with frank's own forward pass), and every other function passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics.rnn import mistakes as m

STUDENT = "frank"
FRANK = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "rnn.py"

MISTAKES = {
    "rnn_backward": m.NO_CARRY_H,
    "word_embedding_backward": m.OVERWRITE,
    "temporal_softmax_loss": m.PER_TOKEN,
}


@pytest.fixture(scope="module")
def results(course):
    found, _ = grade_topic(course, "rnn", FRANK, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function", sorted(MISTAKES))
def test_each_mistake_is_named_where_it_is(results, function):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed), [r.outcome for r in failed]
    named = {r.misconception for r in failed}
    assert named == {MISTAKES[function]}, f"{function}: named {named}"
    for r in failed:
        assert "Hint: " in r.message and function in r.message, r.message


def test_the_correct_functions_pass(results):
    others = [r for r in results if r.function not in MISTAKES]
    assert others
    assert all(r.passed for r in others), [r.check_id for r in others if not r.passed]


def test_the_loss_feedback_says_what_was_compared(results):
    check = next(
        r
        for r in results
        if r.check_id == "rnn/temporal_softmax_loss: every position masked (loss 0)"
    )
    assert "temporal_softmax_loss(x (2, 3, 4), y int64 (2, 3), mask bool (2, 3))" in check.message
    assert "NaN/inf where the expected value is finite" in check.message
    assert "divide by N (the batch size)" in check.message

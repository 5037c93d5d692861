"""noah's frameworks.py (examples/submissions/noah): four named mistakes.

- custom_leaky_relu_grad: LeakyReLUFunction.backward masks with dout instead of the saved x;
- sgd_train: no optimizer.zero_grad(), so gradients accumulate across steps;
- predict: model.eval() forgotten (batch norm normalises with the batch's statistics);
- head_optimizer: the frozen extractor's parameters are in the optimizer too.
Every other function is correct (train_head too: SGD skips parameters without a gradient, so
noah's optimizer trains the same head).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics import frameworks as fw
from grader.topics.frameworks.mistakes import (
    FROZEN_IN_OPTIMIZER,
    NO_EVAL,
    NO_ZERO_GRAD,
    WRONG_INPUT,
)

STUDENT = "noah"
NOAH = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "frameworks.py"
MISTAKES = {
    "custom_leaky_relu_grad": WRONG_INPUT,
    "sgd_train": NO_ZERO_GRAD,
    "predict": NO_EVAL,
    "head_optimizer": FROZEN_IN_OPTIMIZER,
}
CORRECT = tuple(f for f in fw.FUNCTIONS if f not in MISTAKES)


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "frameworks", NOAH, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function, mistake", sorted(MISTAKES.items()))
def test_each_mistake_is_named_where_it_is(results, function, mistake):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    assert all(r.outcome is Outcome.WRONG for r in failed)
    assert mistake in {r.misconception for r in failed}
    named = next(r for r in failed if r.misconception == mistake)
    assert f"looks like a known mistake: {mistake}" in named.message


@pytest.mark.parametrize("function", CORRECT)
def test_correct_functions_pass(results, function):
    mine = [r for r in results if r.function == function]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]

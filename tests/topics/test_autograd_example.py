"""judy's autograd.py (examples/submissions/judy): a micrograd-style engine, built differently
from the reference (each operation's closure adds into its parents' grads), graded through the
same handles. Four known mistakes, all in Value:

- tanh's local rule uses the input (1 - x**2) instead of the output (1 - tanh(x)**2);
- mul does not sum its broadcast gradients back to its inputs' shapes (add does);
- zero_grad() resets only the node it is called on;
- backward(grad) seeds whatever grad it is given, of any shape (as micrograd-style engines
  do; the docstring asks for a ValueError unless grad has the output's shape).

Each mistake is named where it shows alone; where two of them meet in one program (a random
graph with a tanh and a broadcasting mul) the check fails without a name, and no check names a
mistake judy does not make. unbroadcast, and every check that none of her bugs reaches, pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.autograd import engines as e

STUDENT = "judy"
JUDY = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "autograd.py"
MISTAKES = {"Value": (e.TANH_AT_INPUT, e.NO_UNBROADCAST, e.NO_ZERO_GRAD, e.GRAD_SHAPE_UNCHECKED)}
# checks no bug of judy's reaches: no tanh, no broadcasting mul, no zero_grad
UNTOUCHED = (
    "add passes the upstream gradient unchanged to both inputs",
    "mul swaps its inputs: d(a*b)/da = b",
    "relu routes the gradient to x where x > 0",
    "x - y, then -that",
    "x / y (y > 0)",
    "x ** 0.5, then that ** 1.5 (x > 0)",
    "x.sum(axis=(0, 2)) of (2, 3, 4)",
    "(3, 4) @ (4, 2)",
    "broadcasting (3, 1) + (1, 4)",
    "broadcasting (3, 4) - (4,): a row vector",
    "shared subexpression: y = a * b, then (y + a).exp() * y",
    "backward() without grad on a non-scalar output raises ValueError",
    "two graphs of one program: same gradients, no shared state",
)


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "autograd", JUDY, None, sandbox_for(course))
    return found


def _failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.function == "Value" and not r.passed]


@pytest.mark.parametrize("mistake", MISTAKES["Value"])
def test_each_mistake_is_named(results, mistake):
    named = [r for r in _failed(results) if r.misconception == mistake]
    assert named, f"no check named {mistake}"
    for r in named:
        assert r.outcome is Outcome.WRONG
        assert f"looks like a known mistake: {mistake}. Hint: " in r.message


def test_no_other_mistake_is_named(results):
    named = {r.misconception for r in _failed(results)} - {None}
    assert named == set(MISTAKES["Value"])


def test_where_the_mistakes_meet_the_check_fails_unnamed(results):
    unnamed = [r for r in _failed(results) if r.misconception is None]
    # a grad grown by the broadcast bug can also break a later rule (an exception)
    allowed = (Outcome.WRONG, Outcome.BAD_OUTPUT, Outcome.EXCEPTION)
    assert unnamed and all(r.outcome in allowed for r in unnamed)
    assert all(
        "program (run on your Value and on the reference engine)" in r.message for r in unnamed
    )


def test_unbroadcast_and_untouched_checks_pass(results):
    mine = [r for r in results if r.function == "unbroadcast"]
    assert mine and all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]
    by_id = {r.check_id: r for r in results}
    for case in UNTOUCHED:
        assert by_id[f"autograd/Value: {case}"].passed, case


def test_the_feedback_localises_the_tanh_rule(results):
    check = next(r for r in results if r.check_id == "autograd/Value: x.tanh()")
    assert "n0.grad differs from the reference engine" in check.message
    assert "look at n1 = n0.tanh()" in check.message
    assert "n1 = n0.tanh()\n    n1.backward(grad (3, 4))" in check.message


def test_the_zero_grad_feedback_names_the_node_left_over(results):
    check = next(
        r
        for r in results
        if r.check_id == "autograd/Value: zero_grad() resets every node of the graph"
    )
    assert "n0.zero_grad()" not in check.message and "n5.zero_grad()" in check.message
    assert "reset the grad of every node of the graph" in check.message

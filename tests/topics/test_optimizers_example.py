"""erin's optimizers (examples/submissions/erin): three classic mistakes, the rest correct.

Each buggy function's failing checks name its mistake, the feedback says which step went wrong
and what was compared, and every check of the correct functions passes (her in-place SGD and
her CS231n-style setdefault state included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.pipeline import grade_topic, sandbox_for

STUDENT = "erin"
ERIN = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "optimizers.py"

MISTAKES = {
    "adam": "Adam without bias correction",
    "sgd_momentum": "momentum with the wrong sign",
    "rmsprop": "optimizer state not written back",
}


@pytest.fixture(scope="module")
def results(course):
    found, _ = grade_topic(course, "optimizers", ERIN, None, sandbox_for(course))
    return found


@pytest.mark.parametrize("function", sorted(MISTAKES))
def test_each_mistake_is_named_where_it_is(results, function):
    failed = [r for r in results if r.function == function and not r.passed]
    assert failed, f"no check of {function} failed"
    named = {r.misconception for r in failed}
    assert MISTAKES[function] in named, named
    visible = [r for r in failed if r.visibility == "visible"]
    assert visible and all(r.misconception == MISTAKES[function] for r in visible), [
        (r.check_id, r.misconception) for r in visible
    ]


def test_feedback_says_what_step_and_what_was_compared(results):
    by_id = {r.check_id: r for r in results}
    adam = by_id["optimizers/adam: small learning rate 1e-6, 5 steps"].message
    for fragment in (
        "adam(w (4, 3), dw (4, 3), config={'learning_rate': 1e-06})",
        "called 5 times in a row",
        "at step 1 of 5, the update next_w - w differs",
        "tolerance 1e-06",
        "worst at update[",
        "Hint: divide m by (1 - beta1**t)",
    ):
        assert fragment in adam, (fragment, adam)
    rms = by_id["optimizers/rmsprop: defaults: config=None, 4 steps"].message
    assert "at step 1 of 4, the returned config['cache'] differs" in rms, rms
    descent = by_id["optimizers/sgd_momentum: descent on a convex quadratic"]
    assert "f must decrease at every step" in descent.message
    assert descent.misconception == MISTAKES["sgd_momentum"]


def test_correct_functions_pass(results):
    wrong = [r.check_id for r in results if r.function not in MISTAKES and not r.passed]
    assert wrong == []

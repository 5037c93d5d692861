"""leo's training.py (examples/submissions/leo) keeps best_W by reference, averages the logits
of the ensemble and swaps s and y in BFGS: every failing check of those functions names the
mistake, and the other functions pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics import training as t

STUDENT = "leo"
LEO = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "training.py"
MISTAKES = {
    t.TRAIN: t.BY_REFERENCE,
    t.ENSEMBLE: t.AVERAGED_LOGITS,
    t.BFGS: t.SY_SWAPPED,
}


@pytest.fixture(scope="module")
def results(course):
    found, _ = grade_topic(course, "training", LEO, None, sandbox_for(course))
    return found


def test_each_mistake_is_named_where_it_is(results):
    failed = [r for r in results if not r.passed]
    assert {r.function for r in failed} == set(MISTAKES)
    assert all(r.outcome is Outcome.WRONG for r in failed)
    for function, mistake in MISTAKES.items():
        named = {r.misconception for r in failed if r.function == function}
        assert mistake in named, (function, named)


def test_early_stopping_runs_fail_and_full_runs_pass(results):
    """best_W by reference only shows when training goes on after the best epoch."""
    train = {r.check_id.split(": ", 1)[1]: r for r in results if r.function == t.TRAIN}
    assert not train["sgd, stops early (patience 3)"].passed
    assert train["sgd, stops early (patience 3)"].misconception == t.BY_REFERENCE
    assert "Hint: best_W = W stores a reference" in train["sgd, stops early (patience 3)"].message


def test_the_other_functions_pass(results):
    for r in results:
        if r.function in (t.POLYAK, t.NEWTON):
            assert r.passed, r.check_id
    ensemble = {r.check_id.split(": ", 1)[1]: r for r in results if r.function == t.ENSEMBLE}
    assert ensemble["one model is its softmax (N=5, C=3)"].passed
    assert ensemble["rows sum to 1"].passed

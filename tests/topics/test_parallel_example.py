"""mia's parallel.py (examples/submissions/mia): four named mistakes, one per function.

- ring_allreduce stops after the reduce-scatter (no all-gather);
- data_parallel_gradient sums the worker gradients instead of weighting them by n_k / N;
- split_backward never sends dh = dout W2^T back across the split (device 0's gradients are 0);
- loader_step_times loads every batch in the loop, ignoring prefetch.
split_batch, worker_gradients, allreduce_bytes and split_forward are correct.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.parallel import mistakes as m

STUDENT = "mia"
MIA = Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "parallel.py"
MISTAKES = {
    m.RING: m.REDUCE_ONLY,
    m.DATA: m.SUMMED,
    m.BACKWARD: m.NO_CROSS_GRADIENT,
    m.LOADER: m.NO_PREFETCH,
}
CORRECT = (m.SPLIT, m.GRADS, m.BYTES, m.FORWARD)


@pytest.fixture(scope="module")
def results(course) -> list[CheckResult]:
    found, _ = grade_topic(course, "parallel", MIA, None, sandbox_for(course))
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

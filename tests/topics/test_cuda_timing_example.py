"""Grading heidi's cuda_timing submission: the classic timer without synchronize (and two
arithmetic slips) are caught and named; her correct functions pass."""

from __future__ import annotations

from pathlib import Path

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.topics.cuda_timing import sim

STUDENT = "heidi"
HEIDI = (
    Path(__file__).resolve().parents[2] / "examples" / "submissions" / STUDENT / "cuda_timing.py"
)
MISTAKES = {
    "time_cuda": sim.NO_SYNC,
    "matmul_flops": "one FLOP per multiply-add",
    "bandwidth_gbps": "GiB (2**30) instead of GB (1e9)",
}


def test_heidi_mistakes_are_named_and_the_rest_passes(course):
    results, _ = grade_topic(course, "cuda_timing", HEIDI, None, sandbox_for(course))
    ran = [r for r in results if r.outcome is not Outcome.NOT_RUN]
    for function, mistake in MISTAKES.items():
        failed = [r for r in ran if r.function == function and not r.passed]
        assert failed, f"{function} was not caught"
        assert all(r.misconception == mistake for r in failed), [
            (r.check_id, r.misconception) for r in failed
        ]
    no_sync = next(r for r in ran if r.function == "time_cuda" and not r.passed)
    assert "the timer does not wait for the GPU" in no_sync.message
    wrong_elsewhere = [r.check_id for r in ran if r.function not in MISTAKES and not r.passed]
    assert not wrong_elsewhere, wrong_elsewhere
    assert {r.kind for r in results if r.outcome is Outcome.NOT_RUN} == {"gpu"}

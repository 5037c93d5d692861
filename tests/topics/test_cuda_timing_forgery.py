"""Simulated timings cannot be forged (issue 18, item 4): timers that report the true numbers
without having measured them earn nothing on the simulated-device checks; correct timers
written otherwise than the reference earn every point.

Only the timer checks are graded (``time_cuda``, ``time_cpu`` on the simulated device): one
worker per submission, about a second each.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cuda_timing_forgeries import FORGERIES, HONEST

from grader import registry
from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.sim import judge_has_cuda
from grader.topics.cuda_timing.sim import SimulatedTimer

pytestmark = pytest.mark.skipif(judge_has_cuda(), reason="the simulation runs without CUDA only")
TOPIC = "cuda_timing"


@pytest.fixture(scope="module")
def timer_course(course):
    """The course with only the simulated timer checks of the topic."""
    spec = registry.topic(TOPIC)
    plans = tuple(
        p for p in course.plans[TOPIC] if isinstance(spec.check(p.check_id), SimulatedTimer)
    )
    assert len(plans) >= 10
    return replace(course, plans={**course.plans, TOPIC: plans})


def grade(course, tmp_path, timers: str):
    source = (course.solutions_dir / f"{TOPIC}.py").read_text() + "\n" + timers
    path = tmp_path / f"{TOPIC}.py"
    path.write_text(source)
    results, _ = grade_topic(course, TOPIC, path, None, sandbox_for(course))
    return [r for r in results if r.function in ("time_cuda", "time_cpu")]


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_timer_scores_nothing(timer_course, tmp_path, name):
    results = grade(timer_course, tmp_path, FORGERIES[name])
    assert len(results) >= 10
    scored = [(r.check_id, r.message) for r in results if r.points > 0 or r.passed]
    assert not scored, f"{name} scored: {scored[:2]}"
    assert {r.outcome for r in results} <= {Outcome.WRONG, Outcome.BAD_OUTPUT, Outcome.EXCEPTION}


def test_a_forgery_is_told_what_was_not_measured(timer_course, tmp_path):
    results = grade(timer_course, tmp_path, FORGERIES["launches only"])
    cuda = next(r for r in results if r.function == "time_cuda")
    cpu = next(r for r in results if r.function == "time_cpu")
    assert "times_ms[0]" in cuda.message and "is not a time your code measured" in cuda.message
    assert "elapsed_time" in cuda.message
    assert "synchronize before the second" in cpu.message
    results = grade(timer_course, tmp_path, FORGERIES["oracle"])
    assert "fn was called 0 times (warmup + iters = 25)" in results[0].message


def test_an_operation_the_device_does_not_have_is_bad_output(timer_course, tmp_path):
    results = grade(timer_course, tmp_path, FORGERIES["forged operations"])
    assert {r.outcome for r in results} == {Outcome.BAD_OUTPUT}
    assert all("refused" in r.message and "kernel 7" in r.message for r in results)


@pytest.mark.parametrize("name", sorted(HONEST))
def test_an_honest_timer_written_otherwise_earns_every_point(timer_course, tmp_path, name):
    results = grade(timer_course, tmp_path, HONEST[name])
    failed = [(r.check_id, r.message) for r in results if not r.passed]
    assert not failed, failed[:2]
    assert all(r.points == r.max_points for r in results)

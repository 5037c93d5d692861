"""The cuda_timing topic end to end on this machine (no CUDA): the reference earns every point,
the stubs none, GPU checks are not run, and grading is deterministic."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from grader.checks.base import Outcome
from grader.checks.gpu import NO_CUDA
from grader.judge.student import Call, StudentModule
from grader.pipeline import grade_topic, sandbox_for
from grader.sim import judge_has_cuda
from grader.sim.session import Session
from grader.sim.workloads import sim_kernel

pytestmark = pytest.mark.skipif(judge_has_cuda(), reason="these expectations are for no CUDA")


@pytest.fixture(scope="module")
def reference_results(course):
    path = course.solutions_dir / "cuda_timing.py"
    return grade_topic(course, "cuda_timing", path, None, sandbox_for(course))[0]


def test_reference_passes_every_check_that_runs(reference_results):
    ran = [r for r in reference_results if r.outcome is not Outcome.NOT_RUN]
    assert ran and all(r.passed for r in ran), [r.check_id for r in ran if not r.passed]


def test_gpu_checks_are_not_run_and_not_counted(reference_results):
    gpu = [r for r in reference_results if r.kind == "gpu"]
    assert len(gpu) >= 10
    assert all(r.outcome is Outcome.NOT_RUN and r.message == NO_CUDA for r in gpu)
    assert not any(r.counts for r in gpu)
    assert all(r.outcome is not Outcome.NOT_RUN for r in reference_results if r.kind != "gpu")


def test_stubs_are_not_implemented(course):
    path = course.assignments_dir / "cuda_timing.py"
    results, _ = grade_topic(course, "cuda_timing", path, None, sandbox_for(course))
    outcomes = {r.outcome for r in results if r.kind != "gpu"}
    assert outcomes == {Outcome.NOT_IMPLEMENTED}
    assert sum(r.points for r in results) == 0


def test_grading_twice_gives_the_same_results(course, reference_results, tmp_path):
    source = (course.solutions_dir / "cuda_timing.py").read_text()
    # a timer with a mistake: its wrong numbers must be the same every time too
    old = "            torch.cuda.synchronize()\n        start = time.perf_counter()"
    assert old in source
    source = source.replace(old, "            pass\n        start = time.perf_counter()")
    path = tmp_path / "cuda_timing.py"
    path.write_text(source)
    first = grade_topic(course, "cuda_timing", path, None, sandbox_for(course))[0]
    second = grade_topic(course, "cuda_timing", path, None, sandbox_for(course))[0]
    assert [(r.check_id, r.outcome, r.message) for r in first] == [
        (r.check_id, r.outcome, r.message) for r in second
    ]
    assert any(not r.passed and r.function == "time_cpu" for r in first if r.counts)


def test_simulated_seconds_cost_no_real_time(course, tmp_path):
    """The 10 s-of-device-time check runs in far less real time."""
    sandbox = replace(sandbox_for(course), memory_mb=2048, setup="simulated_cuda")
    student = StudentModule(course.solutions_dir / "cuda_timing.py", "cuda_timing", sandbox, 60, 30)
    try:
        student.loaded_functions()
        spec = sim_kernel(duration_ms=1000.0, first_ms=1000.0, slow_calls=1, jitter=0.0)
        session = Session()
        started = time.perf_counter()
        call = Call("time_cpu", (session.kernel(spec), 0, 30), answer=session.answer)
        stats = student.call(call).value
        elapsed = time.perf_counter() - started
    finally:
        student.close()
    assert stats["median_ms"] == pytest.approx(1000.0, rel=1e-4)  # 30 s of simulated work
    assert elapsed < 2.0

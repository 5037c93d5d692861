"""cuda_timing on a real GPU (``pytest -m gpu``; skipped without CUDA): the reference passes its
GPU checks against itself, and a timer without synchronize fails them, named."""

from __future__ import annotations

import pytest

from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for
from grader.sim import judge_has_cuda

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not judge_has_cuda(), reason="needs a CUDA device"),
]


def grade(course, path):
    return grade_topic(course, "cuda_timing", path, None, sandbox_for(course))[0]


def test_reference_passes_the_gpu_checks(course):
    results = grade(course, course.solutions_dir / "cuda_timing.py")
    gpu = [r for r in results if r.kind == "gpu"]
    assert gpu and all(r.passed for r in gpu), [
        (r.check_id, r.message) for r in gpu if not r.passed
    ]
    # the simulated-device checks step aside where the real device grades the timers
    simulated = [r for r in results if r.function.startswith("time_") and r.kind == "reference"]
    assert simulated and all(r.outcome is Outcome.NOT_RUN for r in simulated)


def test_a_timer_without_synchronize_fails_on_the_gpu(course, tmp_path):
    source = (course.solutions_dir / "cuda_timing.py").read_text()
    old = "        fn()\n        if cuda:\n            torch.cuda.synchronize()\n        times[i]"
    assert old in source
    path = tmp_path / "cuda_timing.py"
    path.write_text(source.replace(old, "        fn()\n        times[i]"))
    results = grade(course, path)
    check = next(r for r in results if r.function == "time_cpu" and r.kind == "gpu")
    assert check.outcome is Outcome.WRONG
    assert check.misconception == "timer without synchronize"


def test_real_workload_runs():
    import torch

    from grader.sim.workloads import build_real, matmul

    run = build_real(matmul(256, "bfloat16", seed=1))
    run()
    torch.cuda.synchronize()

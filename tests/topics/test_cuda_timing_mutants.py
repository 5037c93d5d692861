"""The cuda_timing checks catch realistic bugs and name the known mistakes.

Timer mutants are graded one by one on the simulated device, by ``assert_caught`` on the course
without the checks this machine cannot run (the GPU checks, ``not_run`` without CUDA; they are
tested in test_cuda_timing_gpu.py). Arithmetic mutants are graded in two batches of one mutant
per function (every grading starts a worker that imports torch, about a second): each mutated
function must fail with its mistake named, every other function pass; GPU checks report not_run
there and are left out of "passed / failed".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mutation import Mutant, assert_caught, mutate

from grader import registry
from grader.checks.base import Outcome
from grader.pipeline import CheckResult, grade_topic, sandbox_for
from grader.topics.cuda_timing import sim

TOPIC = "cuda_timing"
CAUGHT = (Outcome.WRONG, Outcome.BAD_OUTPUT, Outcome.EXCEPTION)

EVENT_LOOP = """    for _ in range(warmup):
        fn()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for start, end in zip(starts, ends):
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return timing_stats(np.array([s.elapsed_time(e) for s, e in zip(starts, ends)]))
"""
HOST_LOOP_NO_SYNC = """    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return timing_stats(np.array(times))
"""
FIRST_CALL_IN = """    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    out = timing_stats(np.array(times))
    out["median_ms"] = out["mean_ms"]
    return out
"""
SYNC_START = (
    "        if cuda:\n            torch.cuda.synchronize()\n        start = time.perf_counter()"
)
SYNC_STOP = "        fn()\n        if cuda:\n            torch.cuda.synchronize()\n        times[i]"

TIMER_MUTANTS = [
    Mutant(
        TOPIC,
        "time_cuda",
        "    torch.cuda.synchronize()\n    return timing_stats",
        "    return timing_stats",
        sim.ELAPSED_TOO_EARLY,
    ),
    Mutant(
        TOPIC,
        "time_cuda",
        "    for _ in range(warmup):\n        fn()\n    starts",
        "    starts",
        sim.NO_WARMUP,
    ),
    Mutant(TOPIC, "time_cuda", EVENT_LOOP, HOST_LOOP_NO_SYNC, sim.NO_SYNC),
    Mutant(TOPIC, "time_cuda", EVENT_LOOP, FIRST_CALL_IN, sim.FIRST_CALL_AVERAGED),
    Mutant(
        TOPIC,
        "time_cuda",
        "    return timing_stats(np.array([s.elapsed_time(e) for s, e in zip(starts, ends)]))",
        "    out = timing_stats(np.array([s.elapsed_time(e) for s, e in zip(starts, ends)]))\n"
        "    out['median_ms'] = out['mean_ms']\n    return out",
        sim.MEAN_AS_MEDIAN,
    ),
    Mutant(
        TOPIC, "time_cpu", SYNC_START, "        start = time.perf_counter()", sim.UNSYNCED_START
    ),
    Mutant(
        TOPIC,
        "time_cpu",
        SYNC_START + "\n" + SYNC_STOP,
        "        start = time.perf_counter()\n        fn()\n        times[i]",
        sim.NO_SYNC,
    ),
    Mutant(
        TOPIC,
        "time_cpu",
        "    for _ in range(warmup):\n        fn()\n    times",
        "    times",
        sim.NO_WARMUP,
    ),
    Mutant(TOPIC, "time_cpu", "* 1e3", "* 1e6"),  # seconds to microseconds, not ms
    Mutant(TOPIC, "time_cpu", SYNC_STOP, "        fn()\n        times[i]"),  # sync start only
    # 0.1% off (the survivor of the first mutation run): not a time the clock measured
    Mutant(TOPIC, "time_cpu", "* 1e3", "* 1.001e3"),
    # one warm-up call even when none is asked: the warmup=0 check times the first call
    Mutant(
        TOPIC,
        "time_cuda",
        "    for _ in range(warmup):\n        fn()\n    starts",
        "    for _ in range(max(1, warmup)):\n        fn()\n    starts",
    ),
    # the upper middle value as the median of an even count: not the median of times_ms
    Mutant(
        TOPIC,
        "time_cuda",
        "    return timing_stats(np.array([s.elapsed_time(e) for s, e in zip(starts, ends)]))",
        "    out = timing_stats(np.array([s.elapsed_time(e) for s, e in zip(starts, ends)]))\n"
        "    out['median_ms'] = float(np.sort(out['times_ms'])[iters // 2])\n    return out",
    ),
]

# Two batches; within a batch, one mutant per function, no function calling another.
BATCHES = [
    [
        Mutant(
            TOPIC,
            "timing_stats",
            "float(np.median(times))",
            "float(np.mean(times))",
            "mean reported as the median",
        ),
        Mutant(
            TOPIC,
            "matmul_flops",
            "return 2 * m * n * k",
            "return m * n * k",
            "one FLOP per multiply-add",
        ),
        Mutant(
            TOPIC,
            "matmul_bytes",
            "return (m * k + k * n + m * n) * dtype_bytes",
            "return (m * k + k * n) * dtype_bytes",
            "output matrix not counted",
        ),
        Mutant(
            TOPIC,
            "tflops",
            "return flops / (ms * 1e-3) / 1e12",
            "return flops / ms / 1e12",
            "milliseconds not converted to seconds",
        ),
        Mutant(
            TOPIC,
            "bandwidth_gbps",
            "(ms * 1e-3) / 1e9\n",
            "(ms * 1e-3) / 2**30\n",
            "GiB (2**30) instead of GB (1e9)",
        ),
        Mutant(
            TOPIC,
            "speedup",
            "return baseline_ms / new_ms",
            "return new_ms / baseline_ms",
            "speed-up inverted",
        ),
        Mutant(
            TOPIC,
            "arithmetic_intensity",
            "return flops / bytes_moved",
            "return bytes_moved / flops",
            "bytes per FLOP instead of FLOPs per byte",
        ),
        Mutant(
            TOPIC,
            "attainable_tflops",
            "return min(peak_tflops",
            "return max(peak_tflops",
            "max of the roofs instead of min",
        ),
        Mutant(
            TOPIC, "roofline_bound", '"memory" if', '"compute" if', None
        ),  # both branches "compute": caught, and no single named mistake fits
        Mutant(
            TOPIC, "crossover_size", "if gpu < cpu", "if gpu <= cpu", "a tie counted as a GPU win"
        ),
    ],
    [
        Mutant(TOPIC, "timing_stats", "float(np.min(times))", "float(times[0])"),
        Mutant(
            TOPIC,
            "matmul_bytes",
            "return (m * k + k * n + m * n) * dtype_bytes",
            "return (m * k + k * n + m * n)",
            "elements counted, not bytes",
        ),
        Mutant(
            TOPIC,
            "tflops",
            "(ms * 1e-3) / 1e12\n",
            "(ms * 1e-3) / 1e9\n",
            "GFLOP/s instead of TFLOP/s",
        ),
        Mutant(
            TOPIC,
            "bandwidth_gbps",
            "return nbytes / (ms * 1e-3)",
            "return nbytes / ms",
            "milliseconds not converted to seconds",
        ),
        Mutant(
            TOPIC,
            "attainable_tflops",
            "peak_gbps / 1000.0",
            "peak_gbps",
            "GB/s times FLOP/byte taken as TFLOP/s",
        ),
        Mutant(
            TOPIC,
            "roofline_bound",
            '"memory" if intensity * peak_gbps / 1000.0 < peak_tflops else "compute"',
            '"compute" if intensity * peak_gbps / 1000.0 < peak_tflops else "memory"',
            "roofs swapped",
        ),
        Mutant(
            TOPIC,
            "crossover_size",
            "    for size, cpu, gpu in zip(sizes, cpu_ms, gpu_ms):\n        if gpu < cpu:\n"
            "            return int(size)",
            "    for i, (cpu, gpu) in enumerate(zip(cpu_ms, gpu_ms)):\n        if gpu < cpu:\n"
            "            return i",
            "index returned instead of the size",
        ),
        Mutant(
            TOPIC, "matmul_flops", "return 2 * m * n * k", "return 2 * m * n * n"
        ),  # k forgotten
    ],
]

MUTANTS = TIMER_MUTANTS + [m for batch in BATCHES for m in batch]


@pytest.fixture(scope="module")
def runnable_course(course):
    """The course without the checks that this machine cannot run (they would be not_run)."""
    spec = registry.topic(TOPIC)

    def runs_here(plan) -> bool:
        unavailable = getattr(spec.check(plan.check_id), "unavailable", None)
        return unavailable is None or unavailable() is None

    plans = tuple(p for p in course.plans[TOPIC] if runs_here(p))
    return replace(course, plans={**course.plans, TOPIC: plans})


def grade_source(course, tmp_path: Path, source: str) -> list[CheckResult]:
    path = tmp_path / f"{TOPIC}.py"
    path.write_text(source)
    results, _ = grade_topic(course, TOPIC, path, None, sandbox_for(course))
    return results


def assert_named(results: list[CheckResult], mutant: Mutant) -> None:
    failed = [r for r in results if r.function == mutant.function and not r.passed]
    failed = [r for r in failed if r.outcome is not Outcome.NOT_RUN]
    assert failed, f"no check of {mutant.function} caught {mutant.label}"
    assert all(r.outcome in CAUGHT for r in failed), [r.outcome for r in failed]
    if mutant.misconception:
        named = {r.misconception for r in failed}
        assert mutant.misconception in named, f"{mutant.label}: named {named}"


def assert_only(results: list[CheckResult], functions: set[str]) -> None:
    others = [
        r.check_id
        for r in results
        if r.function not in functions and not r.passed and r.outcome is not Outcome.NOT_RUN
    ]
    assert not others, f"unrelated checks failed: {others[:5]}"


@pytest.mark.parametrize("mutant", TIMER_MUTANTS, ids=lambda m: m.label)
def test_timer_mutant_is_caught_and_named(runnable_course, tmp_path, mutant):
    assert_caught(runnable_course, tmp_path, mutant)


@pytest.mark.parametrize("batch", BATCHES, ids=["batch A", "batch B"])
def test_arithmetic_mutants_are_caught_and_named(course, tmp_path, batch):
    source = (course.solutions_dir / f"{TOPIC}.py").read_text()
    for mutant in batch:
        source = mutate(source, mutant)
    results = grade_source(course, tmp_path, source)
    functions = {m.function for m in batch}
    assert len(functions) == len(batch)
    for mutant in batch:
        assert_named(results, mutant)
    # time_cuda and time_cpu summarise with timing_stats: they share its mistakes
    callers = {"time_cuda", "time_cpu"} if "timing_stats" in functions else set()
    assert_only(results, functions | callers)


def test_every_misconception_has_a_mutant():
    from grader.topics.cuda_timing import MISCONCEPTIONS

    covered = {(m.function, m.misconception) for m in MUTANTS}
    missing = {(m.function, m.name) for m in MISCONCEPTIONS} - covered
    # the timer mistakes are declared for both timers; one of the two has each mutant
    missing = {
        (f, n)
        for f, n in missing
        if not any((other, n) in covered for other in ("time_cuda", "time_cpu"))
    }
    assert not missing, missing

"""Topic ``cuda_timing``: timing GPU code, and the arithmetic of FLOPs, bandwidth and rooflines.

Declarations only. Three groups of checks:
- arithmetic (``matmul_flops`` ... ``crossover_size``, ``timing_stats``): exact, on any machine;
- timers (``time_cuda``, ``time_cpu``) on the simulated asynchronous device where the judge has
  no GPU (``WORKER_SETUP``; part ``sim``): the device runs in the judge, the worker's
  ``torch.cuda`` and clocks only ask it, and a time scores only when the student measured it;
- GPU checks (part ``gpu``) for the measuring functions and the timers on a real device,
  ``not_run`` without CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.anchor import degenerate
from grader.checks.base import Case, Check, Context, Kind, Make, Misconception, Outcome, Verdict
from grader.checks.hygiene import Deterministic, NoMutation
from grader.checks.property import Property
from grader.checks.reference import Reference
from grader.judge.student import Call
from grader.sim import SIMULATED
from grader.sim.workloads import sim_kernel
from grader.topics.cuda_timing.gpu import gpu_checks
from grader.topics.cuda_timing.sim import SimulatedTimer, timer_misconceptions

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]

TOPIC = "cuda_timing"
SUMMARY = (
    "CUDA-event and host timers graded on a **simulated GPU** without CUDA; roofline "
    "arithmetic; 12 GPU-only measurements"
)
WORKER_SETUP = SIMULATED  # the worker simulates torch.cuda and the clocks when the judge has no GPU
TIMERS = ("time_cuda", "time_cpu")
ARITHMETIC = (
    "timing_stats",
    "matmul_flops",
    "matmul_bytes",
    "tflops",
    "bandwidth_gbps",
    "speedup",
    "arithmetic_intensity",
    "attainable_tflops",
    "roofline_bound",
    "crossover_size",
)
MEASURED = ("matmul_tflops", "cpu_gpu_crossover", "launch_overhead_us", "h2d_bandwidth")
FUNCTIONS = TIMERS + ARITHMETIC + MEASURED + ("amp_speedup",)
VALUE = ("value",)

# H200 datasheet (dense bf16 TFLOP/s, HBM GB/s), used to draw realistic roofline inputs
PEAK_TFLOPS, PEAK_GBPS = 989.0, 4800.0


# -- inputs ------------------------------------------------------------------------------------
def fixed(*args: Any) -> Make:
    return lambda rng: args


def random_mnk(low: int, high: int) -> Make:
    return lambda rng: tuple(int(v) for v in rng.integers(low, high, 3))


def with_dtype(dtype_bytes: int) -> Make:
    return lambda rng: (*random_mnk(1, 5000)(rng), dtype_bytes)


def work_and_time(rng: np.random.Generator) -> tuple:
    return float(rng.integers(10**9, 10**13)), float(rng.uniform(0.05, 50.0))


def two_times(rng: np.random.Generator) -> tuple:
    return float(rng.uniform(0.1, 100.0)), float(rng.uniform(0.1, 100.0))


def roofline(intensity: float) -> Make:
    """A kernel of the given FLOP/byte on the H200 (ridge point 989e3 / 4800 = 206 FLOP/byte)."""

    def make(rng: np.random.Generator) -> tuple:
        nbytes = float(rng.integers(10**6, 10**10))
        return intensity * nbytes, nbytes, PEAK_TFLOPS, PEAK_GBPS

    return make


def times(k: int, outlier: bool = False) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        t = rng.uniform(1.0, 3.0, k)
        if outlier:
            t[0] = 300.0  # a first call left in
        return (t,)

    return make


# -- known mistakes ----------------------------------------------------------------------------
def _arith(function: str, name: str, hint: str, variant: Callable[..., Any]) -> Misconception:
    return Misconception(function, name, hint, variant)


def _median_is_mean(r: ModuleType, t: np.ndarray) -> dict:
    out = r.timing_stats(t)
    return {**out, "median_ms": out["mean_ms"]}


def _crossover_le(
    r: ModuleType, sizes: list[int], cpu: list[float], gpu: list[float]
) -> int | None:
    return next((int(s) for s, c, g in zip(sizes, cpu, gpu) if g <= c), None)


def _crossover_index(
    r: ModuleType, sizes: list[int], cpu: list[float], gpu: list[float]
) -> int | None:
    return next((i for i, (c, g) in enumerate(zip(cpu, gpu)) if g < c), None)


MISCONCEPTIONS = (
    *timer_misconceptions(),
    _arith(
        "timing_stats",
        "mean reported as the median",
        "median_ms is np.median(times_ms): the middle value, which outliers do not move",
        _median_is_mean,
    ),
    _arith(
        "matmul_flops",
        "one FLOP per multiply-add",
        "a multiply-add is two floating-point operations: 2 * m * n * k",
        lambda r, m, n, k: m * n * k,
    ),
    _arith(
        "matmul_bytes",
        "output matrix not counted",
        "C (m, n) is written once: count m * n elements too",
        lambda r, m, n, k, b: (m * k + k * n) * b,
    ),
    _arith(
        "matmul_bytes",
        "elements counted, not bytes",
        "multiply the element count by dtype_bytes",
        lambda r, m, n, k, b: m * k + k * n + m * n,
    ),
    _arith(
        "tflops",
        "milliseconds not converted to seconds",
        "ms * 1e-3 is seconds: divide flops by seconds, then by 1e12",
        lambda r, f, ms: f / ms / 1e12,
    ),
    _arith(
        "tflops",
        "GFLOP/s instead of TFLOP/s",
        "1 TFLOP/s is 1e12 FLOP/s, not 1e9",
        lambda r, f, ms: f / (ms * 1e-3) / 1e9,
    ),
    _arith(
        "bandwidth_gbps",
        "GiB (2**30) instead of GB (1e9)",
        "datasheet GB/s are decimal: divide by 1e9",
        lambda r, b, ms: b / (ms * 1e-3) / 2**30,
    ),
    _arith(
        "bandwidth_gbps",
        "milliseconds not converted to seconds",
        "ms * 1e-3 is seconds: divide bytes by seconds, then by 1e9",
        lambda r, b, ms: b / ms / 1e9,
    ),
    _arith(
        "speedup",
        "speed-up inverted",
        "speed-up is baseline_ms / new_ms: above 1 when the new version is faster",
        lambda r, base, new: new / base,
    ),
    _arith(
        "arithmetic_intensity",
        "bytes per FLOP instead of FLOPs per byte",
        "intensity is flops / bytes_moved",
        lambda r, f, b: b / f,
    ),
    _arith(
        "attainable_tflops",
        "max of the roofs instead of min",
        "a kernel is limited by the lower roof: min(peak, intensity * bandwidth)",
        lambda r, f, b, p, g: max(p, f / b * g / 1000.0),
    ),
    _arith(
        "attainable_tflops",
        "GB/s times FLOP/byte taken as TFLOP/s",
        "intensity (FLOP/byte) * GB/s is GFLOP/s: divide by 1000 for TFLOP/s",
        lambda r, f, b, p, g: min(p, f / b * g),
    ),
    _arith(
        "roofline_bound",
        "roofs swapped",
        "below the ridge point (intensity * bandwidth < peak compute) a kernel is memory-bound",
        lambda r, *args: {"memory": "compute", "compute": "memory"}[r.roofline_bound(*args)],
    ),
    _arith(
        "crossover_size",
        "a tie counted as a GPU win",
        "the GPU wins only when strictly faster: gpu_ms[i] < cpu_ms[i]",
        _crossover_le,
    ),
    _arith(
        "crossover_size",
        "index returned instead of the size",
        "return sizes[i], the matrix size, not i",
        _crossover_index,
    ),
)


# -- crossover_size: its answer may be None, compared exactly --------------------------------
# each case's make returns (sizes, cpu_ms, gpu_ms)
CROSSOVER_CASES = (
    Case(
        "GPU wins from the third size",
        fixed([64, 128, 256, 512], [0.1, 0.5, 4.0, 30.0], [2.0, 2.1, 3.0, 5.0]),
    ),
    Case("GPU never wins (None)", fixed([64, 128, 256], [0.1, 0.5, 4.0], [2.0, 2.1, 6.0])),
    Case("GPU wins at the first size", fixed([1024, 2048], [50.0, 400.0], [9.0, 30.0])),
    Case("a tie is not a win", fixed([100, 200, 300], [1.0, 5.0, 9.0], [3.0, 5.0, 7.0])),
    Case(
        "wins, loses, wins again (the first win)",
        fixed([10, 20, 30, 40, 50], [1.0, 2.0, 3.0, 4.0, 5.0], [9.0, 1.5, 3.5, 1.0, 1.0]),
        hidden=True,
    ),
)


def _crossover(make: Make) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        sizes, cpu, gpu = make(ctx.rng)
        want = ctx.ref.crossover_size(sizes, cpu, gpu)
        got = ctx.student.call(Call("crossover_size", (sizes, cpu, gpu))).value
        if isinstance(got, (np.integer, float)) and float(got).is_integer():
            got = int(got)
        if got is not None and type(got) is not int:
            return Verdict(
                Outcome.BAD_OUTPUT, f"crossover_size: expected an int or None, got {got!r:.80}"
            )
        if got == want and (got is None) == (want is None):
            return Verdict(Outcome.PASSED)
        lines = [
            f"crossover_size(sizes={sizes}, cpu_ms={cpu}, gpu_ms={gpu}): yours {got}, "
            f"expected {want}"
        ]
        named = None
        for m in MISCONCEPTIONS:
            if m.function == "crossover_size" and m.variant(ctx.ref, sizes, cpu, gpu) == got:
                named = m
                lines.append(f"  looks like a known mistake: {m.name}. Hint: {m.hint}")
                break
        return Verdict(Outcome.WRONG, "\n".join(lines), misconception=named.name if named else None)

    return body


# -- checks --------------------------------------------------------------------------------------
def _timer_checks() -> list[Check]:
    found: list[Check] = []
    for fn in TIMERS:
        found += [
            SimulatedTimer(
                TOPIC, fn, "simulated 2 ms kernel, warmup=10, iters=15", sim_kernel(), 10, 15
            ),
            SimulatedTimer(
                TOPIC,
                fn,
                "simulated 0.5 ms kernel, default warmup and iters",
                sim_kernel(duration_ms=0.5, slow_ms=1.5, seed=3),
                None,
                None,
            ),
            SimulatedTimer(
                TOPIC,
                fn,
                "simulated 200 ms kernel x 50 (10 s of device time), warmup=3, iters=50",
                sim_kernel(duration_ms=200.0, first_ms=2000.0, slow_calls=3, slow_ms=400.0),
                3,
                50,
            ),
            SimulatedTimer(
                TOPIC,
                fn,
                "one timed call (iters=1), warmup=4",
                sim_kernel(duration_ms=1.0, slow_calls=4, slow_ms=3.0, seed=5),
                4,
                1,
            ),
            # warm-up 0 (issue 11): nothing is untimed, so the slow first call is timed call 1;
            # a timer that always warms up once (range(max(1, warmup))) times calls 2.. instead
            SimulatedTimer(
                TOPIC,
                fn,
                "no warm-up asked (warmup=0): the slow first call is timed too",
                sim_kernel(duration_ms=1.5, first_ms=50.0, slow_calls=3, slow_ms=4.0, seed=7),
                0,
                6,
            ),
            SimulatedTimer(
                TOPIC,
                fn,
                "simulated 20 ms kernel, first call 1 s, warmup=5, iters=9",
                sim_kernel(duration_ms=20.0, first_ms=1000.0, slow_calls=5, slow_ms=50.0, seed=11),
                5,
                9,
                hidden=True,
            ),
        ]
    return found


def _arith_checks() -> list[Check]:
    S = VALUE
    ref = Reference
    found: list[Check] = [
        ref(TOPIC, "timing_stats", "random, 15 times", times(15), ("stats",)),
        ref(TOPIC, "timing_stats", "even count (median of the two middle)", times(8), ("stats",)),
        ref(TOPIC, "timing_stats", "a 300 ms outlier", times(11, outlier=True), ("stats",)),
        ref(TOPIC, "timing_stats", "one time", times(1), ("stats",)),
        NoMutation(TOPIC, "timing_stats", "inputs unchanged", times(9), ("stats",)),
        Deterministic(TOPIC, "timing_stats", "deterministic", times(9), ("stats",)),
        ref(TOPIC, "matmul_flops", "square 64", fixed(64, 64, 64), S),
        ref(TOPIC, "matmul_flops", "non-square m=3 n=5 k=7", fixed(3, 5, 7), S),
        ref(TOPIC, "matmul_flops", "random sizes", random_mnk(1, 5000), S),
        ref(TOPIC, "matmul_flops", "8192^3", fixed(8192, 8192, 8192), S, hidden=True),
        ref(TOPIC, "matmul_bytes", "float32, m=3 n=5 k=7", fixed(3, 5, 7, 4), S),
        ref(TOPIC, "matmul_bytes", "bfloat16, random sizes", with_dtype(2), S),
        ref(TOPIC, "matmul_bytes", "float64, random sizes", with_dtype(8), S, hidden=True),
        ref(TOPIC, "tflops", "8192^3 in 21.6 ms", fixed(2.0 * 8192**3, 21.6), S),
        ref(TOPIC, "tflops", "random work and time", work_and_time, S),
        ref(TOPIC, "bandwidth_gbps", "64 MiB in 1.2 ms", fixed(64 * 2**20, 1.2), S),
        ref(TOPIC, "bandwidth_gbps", "random bytes and time", work_and_time, S, hidden=True),
        ref(TOPIC, "speedup", "0.65 ms -> 0.11 ms", fixed(0.65, 0.11), S),
        ref(TOPIC, "speedup", "random", two_times, S),
        ref(
            TOPIC,
            "arithmetic_intensity",
            "4096^3 bf16 matmul",
            fixed(2.0 * 4096**3, 3 * 4096**2 * 2.0),
            S,
        ),
        ref(TOPIC, "arithmetic_intensity", "random", work_and_time, S),
        ref(TOPIC, "attainable_tflops", "memory-bound (2 FLOP/byte)", roofline(2.0), S),
        ref(TOPIC, "attainable_tflops", "far below the ridge (0.1 FLOP/byte)", roofline(0.1), S),
        ref(TOPIC, "attainable_tflops", "compute-bound (1000 FLOP/byte)", roofline(1000.0), S),
        ref(
            TOPIC,
            "attainable_tflops",
            "near the ridge (190 FLOP/byte)",
            roofline(190.0),
            S,
            hidden=True,
        ),
        ref(TOPIC, "roofline_bound", "memory-bound (0.25 FLOP/byte)", roofline(0.25), S),
        ref(TOPIC, "roofline_bound", "compute-bound (1000 FLOP/byte)", roofline(1000.0), S),
        ref(
            TOPIC, "roofline_bound", "ridge point exactly", fixed(4.0e15, 2.0e13, 1000.0, 5000.0), S
        ),
        ref(TOPIC, "roofline_bound", "just left of the ridge", roofline(200.0), S, hidden=True),
    ]
    found += [
        Property(
            TOPIC,
            "crossover_size",
            case.name,
            _crossover(case.make),
            hidden=case.hidden,
            kind=Kind.REFERENCE,
        )
        for case in CROSSOVER_CASES
    ]
    return found


def checks() -> list[Check]:
    # answers a trivial function gives: None for "never", 1.0 ms for a 1 ms kernel, the one
    # time itself for every statistic of one time
    trivial = ("GPU never wins (None)", "one timed call (iters=1), warmup=4", "one time")
    return degenerate(_timer_checks() + _arith_checks(), *trivial) + gpu_checks()

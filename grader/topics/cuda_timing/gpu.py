"""Topic ``cuda_timing``, GPU checks: the measuring functions on a real CUDA device.

Each check measures with the reference in the judge process and with the student's function in
the worker, on the same GPU, interleaved (reference, student, reference), and accepts a ratio
band around the reference (``grader.checks.gpu``). Without CUDA they report ``not_run``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from grader.checks.base import Check, Context, Outcome, Verdict
from grader.checks.gpu import Band, GpuCheck, interleaved, real_number
from grader.judge.student import Call
from grader.sim.workloads import build_real, matmul

TOPIC = "cuda_timing"
NO_SYNC_NOTE = (
    "far below the reference: the timer does not wait for the GPU (timer without synchronize: "
    "call torch.cuda.synchronize() before stopping the clock, or use CUDA events)"
)
CROSSOVER_SIZES = [32, 64, 128, 256, 512, 1024]


@contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """The worker runs with one CPU thread (OMP_NUM_THREADS=1): so must the reference."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _timer(fn_name: str, n: int, dtype: str) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        spec = matmul(n, dtype, seed=7)
        workload = build_real(spec)

        def reference() -> float:
            return getattr(ctx.ref, fn_name)(workload, 10, 50)["median_ms"]

        def student() -> float:
            value = ctx.student.call(Call(fn_name, (spec, 10, 50))).value
            if not isinstance(value, dict) or "median_ms" not in value:
                return real_number(None, f"{fn_name} -> median_ms")
            return real_number(value["median_ms"], f"{fn_name} -> median_ms")

        before, got, after = interleaved(reference, student)
        ref = (before + after) / 2
        verdict = Band().verdict(
            f"{fn_name} median of a {n}^3 {dtype} matmul",
            got,
            ref,
            "ms",
            NO_SYNC_NOTE if got < 0.1 * ref else "",
        )
        if got < 0.1 * ref:
            return Verdict(
                verdict.outcome, verdict.message, misconception="timer without synchronize"
            )
        return verdict

    return body


DEFAULT_BAND = Band()


def _measured(
    fn_name: str, args: tuple, unit: str, band: Band = DEFAULT_BAND
) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        def reference() -> float:
            return float(getattr(ctx.ref, fn_name)(*args))

        def student() -> float:
            value = ctx.student.call(Call(fn_name, args), timeout=120).value
            return real_number(value, fn_name)

        before, got, after = interleaved(reference, student)
        return band.verdict(f"{fn_name}{args}", got, (before + after) / 2, unit)

    return body


def _crossover(ctx: Context) -> Verdict:
    sizes = CROSSOVER_SIZES

    def reference() -> Any:
        with _one_cpu_thread():
            return ctx.ref.cpu_gpu_crossover(sizes)

    def student() -> Any:
        return ctx.student.call(Call("cpu_gpu_crossover", (sizes,)), timeout=120).value

    before, got, after = interleaved(reference, student)
    allowed = {before, after}
    for value in (before, after):  # one step either way: both sides are noisy near the crossing
        if value is not None:
            i = sizes.index(value)
            allowed |= {sizes[j] for j in (i - 1, i + 1) if 0 <= j < len(sizes)}
    if got is not None and (type(got) is not int or got not in sizes):
        return Verdict(Outcome.BAD_OUTPUT, f"cpu_gpu_crossover: expected one of {sizes} or None")
    if got in allowed:
        return Verdict(Outcome.PASSED)
    return Verdict(
        Outcome.WRONG,
        f"cpu_gpu_crossover({sizes}): yours {got}, the reference found {before} then {after} "
        "on this machine (one size either way accepted); include the copies to and from the "
        "GPU and synchronize before stopping the clock",
    )


def gpu_checks() -> list[Check]:
    found: list[Check] = []
    for fn in ("time_cuda", "time_cpu"):
        found.append(
            GpuCheck(
                TOPIC, fn, "gpu: 4096^3 bfloat16 matmul vs reference", _timer(fn, 4096, "bfloat16")
            )
        )
    for dtype in ("float32", "tf32", "bfloat16", "float16"):
        found.append(
            GpuCheck(
                TOPIC,
                "matmul_tflops",
                f"gpu: n=4096 {dtype}",
                _measured("matmul_tflops", (4096, dtype), "TFLOP/s"),
            )
        )
    found += [
        GpuCheck(TOPIC, "cpu_gpu_crossover", "gpu: sizes 32..1024", _crossover),
        GpuCheck(
            TOPIC,
            "launch_overhead_us",
            "gpu: eager",
            _measured("launch_overhead_us", (False,), "us", Band(0.5, 2.0)),
        ),
        GpuCheck(
            TOPIC,
            "launch_overhead_us",
            "gpu: CUDA graph",
            _measured("launch_overhead_us", (True,), "us", Band(0.5, 2.0)),
        ),
        GpuCheck(
            TOPIC, "h2d_bandwidth", "gpu: pinned", _measured("h2d_bandwidth", (True,), "GB/s")
        ),
        GpuCheck(
            TOPIC, "h2d_bandwidth", "gpu: pageable", _measured("h2d_bandwidth", (False,), "GB/s")
        ),
        GpuCheck(TOPIC, "amp_speedup", "gpu: batch 256", _measured("amp_speedup", (256,), "x")),
    ]
    return found

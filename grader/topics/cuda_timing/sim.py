"""Topic ``cuda_timing``, timers on the simulated device: the true timings and the known mistakes.

The worker runs the student's ``time_cuda`` / ``time_cpu`` on a judge-chosen ``sim_kernel``
workload (``grader.sim``): the worker gets a kernel id, and every device operation and clock
reading of the student's code is answered by the check's ``Session``, here in the judge. A
timer passes when both hold:

1. its statistics agree (``tol``) with what a correct timer reports: small models of correct
   and of known mistaken timers run on a simulated device of the judge's own (the mistaken ones
   name the mistake);
2. the judge's record of the call agrees with the numbers (``measured_verdict``): each
   ``times_ms[j]`` is, to 1 us, a time the student measured of timed call ``warmup + 1 + j``
   alone (an ``elapsed_time`` answer for ``time_cuda``, two clock readings with a synchronize
   before the second for ``time_cpu``), and the four statistics are those of ``times_ms``. So a
   number the student computed from anything else earns nothing, and a unit slip of 0.1% shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from types import ModuleType
from typing import Any, NoReturn

import numpy as np

from grader.checks.anchor import Gated
from grader.checks.base import PASS, Context, Declared, Kind, Misconception, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, mismatch_verdict
from grader.checks.outputs import conform_outputs
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Workload
from grader.sim import judge_has_cuda
from grader.sim.device import NS_PER_MS, SimDevice
from grader.sim.session import CLOCK, EVENTS, Record, Session
from grader.sim.workloads import SimKernel

STATS = ("stats",)
TIMERS = ("time_cuda", "time_cpu")
Timer = Callable[[SimDevice, SimKernel, int, int], np.ndarray]


# -- models of timers, on the judge's own simulated device -----------------------------------------
def stats(times_ms: np.ndarray, median_is_mean: bool = False) -> dict:
    times = np.asarray(times_ms, dtype=np.float64)
    mean = float(np.mean(times))
    return {
        "median_ms": mean if median_is_mean else float(np.median(times)),
        "mean_ms": mean,
        "min_ms": float(np.min(times)),
        "max_ms": float(np.max(times)),
        "times_ms": times,
    }


def events(dev: SimDevice, fn: SimKernel, warmup: int, iters: int) -> np.ndarray:
    """Events around each call, one synchronize at the end (the reference ``time_cuda``)."""
    for _ in range(warmup):
        fn()
    spans = []
    for _ in range(iters):
        start = dev.stamp()
        fn()
        spans.append(dev.stamp() - start)
    dev.synchronize()
    return np.array(spans) / NS_PER_MS


def host_clock(sync_start: bool, sync_stop: bool) -> Timer:
    """``time.perf_counter`` around each call, with or without the two synchronizations."""

    def timer(dev: SimDevice, fn: SimKernel, warmup: int, iters: int) -> np.ndarray:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(iters):
            if sync_start:
                dev.synchronize()
            start = dev.read_clock()
            fn()
            if sync_stop:
                dev.synchronize()
            times.append(dev.read_clock() - start)
        return np.array(times) / NS_PER_MS

    return timer


CORRECT: dict[str, Timer] = {"time_cuda": events, "time_cpu": host_clock(True, True)}


def run_timer(
    timer: Timer, spec: Workload, warmup: int, iters: int, skip_warmup: bool = False
) -> np.ndarray:
    dev = SimDevice()
    return timer(dev, SimKernel(dev, spec), 0 if skip_warmup else warmup, iters)


def true_stats(function: str, spec: Workload, warmup: int, iters: int) -> dict:
    return stats(run_timer(CORRECT[function], spec, warmup, iters))


# -- known mistakes ------------------------------------------------------------------------------
NO_SYNC = "timer without synchronize"
NO_WARMUP = "no warm-up"
FIRST_CALL_AVERAGED = "first call averaged in (no warm-up, mean reported as the median)"
MEAN_AS_MEDIAN = "mean reported as the median"
UNSYNCED_START = "clock started without synchronizing (queued warm-up work timed)"
ELAPSED_TOO_EARLY = "events' elapsed_time read before synchronizing"
ELAPSED_HINT = (
    "call torch.cuda.synchronize() (or end.synchronize()) after the last end.record() and "
    "before reading start.elapsed_time(end): until then the end event has not happened"
)


def _variant(
    timer: Timer | None, skip_warmup: bool = False, median_is_mean: bool = False
) -> Callable[..., dict]:
    def variant(ref: ModuleType, fn: str, spec: Workload, warmup: int, iters: int) -> dict:
        model = CORRECT[fn] if timer is None else timer
        return stats(run_timer(model, spec, warmup, iters, skip_warmup), median_is_mean)

    return variant


def _raises(ref: ModuleType, *inputs: Any) -> NoReturn:
    raise RuntimeError("CUDA error: device not ready")  # named from the worker's exception


def timer_misconceptions() -> list[Misconception]:
    found = []
    for fn in TIMERS:
        found += [
            Misconception(
                fn,
                NO_SYNC,
                "CUDA launches return at once: call torch.cuda.synchronize() before starting "
                "and before stopping the clock, or time with CUDA events",
                _variant(host_clock(False, False)),
            ),
            Misconception(
                fn,
                NO_WARMUP,
                "call fn() `warmup` times before timing: the first calls pay initialisation "
                "and autotuning and are much slower",
                _variant(None, skip_warmup=True),
            ),
            Misconception(
                fn,
                FIRST_CALL_AVERAGED,
                "warm up first and report np.median of the timed calls: one slow first call "
                "dominates a mean",
                _variant(None, skip_warmup=True, median_is_mean=True),
            ),
            Misconception(
                fn,
                MEAN_AS_MEDIAN,
                "median_ms must be np.median(times): outliers pull the mean, not the median",
                _variant(None, median_is_mean=True),
            ),
            Misconception(
                fn,
                UNSYNCED_START,
                "call torch.cuda.synchronize() right before starting the clock too: the "
                "warm-up calls are still running on the GPU when the loop starts",
                _variant(host_clock(False, True)),
            ),
            Misconception(fn, ELAPSED_TOO_EARLY, ELAPSED_HINT, _raises),
        ]
    return found


# -- the check -----------------------------------------------------------------------------------
def describe_workload(spec: Workload) -> str:
    p = dict(spec.params)
    slow = int(p["slow_calls"]) - 1
    return (
        f"<simulated kernel: first call {p['first_ms']:g} ms, then {slow} calls of "
        f"{p['slow_ms']:g} ms, then {p['duration_ms']:g} ms>"
    )


@dataclass(frozen=True)
class SimulatedTimer(Gated, Declared):
    """``function(workload, warmup, iters)`` on the simulated device against the true timings.

    ``warmup``/``iters`` None: the call passes only the workload (the defaults are checked).
    Without a simulated device (the judge has CUDA) the GPU checks grade the timers instead.
    """

    topic: str
    function: str
    case: str
    spec: Workload
    warmup: int | None
    iters: int | None
    _: KW_ONLY
    tol: float = 1e-2
    hidden: bool = False
    degenerate: bool = False  # a trivial answer is right here: gated (checks.anchor)
    kind: Kind = Kind.REFERENCE

    def unavailable(self) -> str | None:
        """Why this check cannot run on this machine (None: it can)."""
        if judge_has_cuda():
            return "not run: this machine has a CUDA device, so the gpu checks time the real one"
        return None

    def evaluate(self, ctx: Context) -> Verdict:
        if reason := self.unavailable():
            return Verdict(Outcome.NOT_RUN, reason)
        warmup = 10 if self.warmup is None else self.warmup
        iters = 50 if self.iters is None else self.iters
        session = Session()  # the device of this check: in the judge, answering the worker
        fn = session.kernel(self.spec)
        args = (fn,) if self.warmup is None else (fn, warmup, iters)
        call = f"{self.function}(fn={describe_workload(self.spec)}"
        call += ")" if self.warmup is None else f", warmup={warmup}, iters={iters})"
        try:
            reply = ctx.student.call(Call(self.function, args, answer=session.answer))
        except StudentFault as fault:
            if session.violation is None and (
                fault.outcome == "exception" and "device not ready" in fault.reason
            ):
                return Verdict(
                    Outcome.EXCEPTION,
                    f"{call}: {fault.reason}\n  looks like a known mistake: "
                    f"{ELAPSED_TOO_EARLY}. Hint: {ELAPSED_HINT}",
                    staff=fault.staff,
                    misconception=ELAPSED_TOO_EARLY,
                )
            raise
        if session.violation is not None:
            return Verdict(
                Outcome.BAD_OUTPUT,
                f"{call}: the simulated GPU refused an operation ({session.violation}); use "
                "torch.cuda and the time module as the docstring says",
            )
        expected = true_stats(self.function, self.spec, warmup, iters)
        got = conform_outputs(reply.value, (expected,), STATS, self.function)
        comparisons = compare_outputs(STATS, got, (expected,), self.tol)
        if not all(c.ok for c in comparisons):
            return self._mismatch(ctx, call, got, expected, comparisons, warmup, iters)
        return measured_verdict(call, self.function, got[0], session.record(), warmup) or PASS

    def _mismatch(
        self, ctx: Context, call: str, got: tuple, expected: dict, comparisons: list, *counts: int
    ) -> Verdict:
        inputs = (self.function, self.spec, *counts)
        seen = Observation(self.function, call, inputs, got, STATS, (expected,))
        verdict = mismatch_verdict(
            ctx, seen, comparisons, self.tol, "the true timings of the simulated device"
        )
        got_median, true_median = float(got[0]["median_ms"]), expected["median_ms"]
        if got_median < 0.1 * true_median:
            note = (
                f"  measured {got_median:.3g} ms for work that takes {true_median:.3g} ms on "
                "the device: the timer does not wait for the GPU (call torch.cuda.synchronize() "
                "or use events)"
            )
            return Verdict(verdict.outcome, verdict.message + "\n" + note, **_rest(verdict))
        return verdict


# -- the judge's record: a time scores only when the student measured it ------------------------
MEASURED_ATOL_MS = 1e-3  # 1 us: float clocks (time.time() near 1.7e9 s) round to ~0.24 us
MEASURED_RTOL = 1e-6
STATS_RTOL = 1e-9  # the four statistics are those of times_ms (timing_stats), exactly
HOW = {
    "time_cuda": (
        EVENTS,
        "no start.elapsed_time(end) answered by the simulated GPU spans that call alone (events "
        "recorded right before and right after it)",
    ),
    "time_cpu": (
        CLOCK,
        "no two readings of the clock bracket that call alone with a synchronize before the second",
    ),
}


def measured_verdict(
    call: str, function: str, got: dict, record: Record, warmup: int
) -> Verdict | None:
    """None when every reported time is what the student measured of its call on the judge's
    device (and the statistics are those of the times); else a ``wrong`` verdict saying which
    time is not. Times that match the truth but were never measured (computed from a workload's
    parameters, from the grader's models, from patched events or clocks) fail here."""
    source, missing = HOW[function]
    kernel = 1  # the check's only workload
    times = np.asarray(got["times_ms"], dtype=np.float64)
    for j, ms in enumerate(times):
        number = warmup + 1 + j
        index = record.calls.get((kernel, number))
        if index is None:
            made = record.launches.get(kernel, 0)
            return Verdict(
                Outcome.WRONG,
                f"{call}: times_ms[{j}] should time call {number} of fn, but fn was called "
                f"{made} times (warmup + iters = {warmup + len(times)}): call fn() once per "
                "timed iteration",
            )
        near = record.closest(index, source, float(ms))
        if near is not None and abs(ms - near) <= MEASURED_ATOL_MS + MEASURED_RTOL * abs(near):
            continue
        lines = [
            f"{call}: times_ms[{j}] = {ms:.6g} ms is not a time your code measured of call "
            f"{number} of fn (timed call {j + 1}) on the simulated GPU:"
        ]
        if near is None:
            lines.append(f"  {missing}.")
        else:
            lines.append(
                f"  the nearest measurement of that call is {near:.6g} ms (accepted within "
                f"{MEASURED_ATOL_MS * 1000:g} us): report what you measured, in ms."
            )
        if record.reads_dropped and source == CLOCK:
            dropped = record.reads_dropped
            lines.append(f"  (the judge kept the first clock readings only: {dropped} were not)")
        return Verdict(Outcome.WRONG, "\n".join(lines))
    want = stats(times)
    for key in ("median_ms", "mean_ms", "min_ms", "max_ms"):
        value = float(got[key])
        if not abs(value - want[key]) <= STATS_RTOL * abs(want[key]):
            return Verdict(
                Outcome.WRONG,
                f"{call}: {key} = {value:.9g} is not the {key[:-3]} of your times_ms "
                f"({want[key]:.9g}): summarise the timed calls with timing_stats(times)",
            )
    return None


def _rest(verdict: Verdict) -> dict:
    return {"misconception": verdict.misconception, "staff": verdict.staff}

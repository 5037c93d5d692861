"""Speed checks: a vectorised function must beat the naive reference by a ratio measured in the
same grading run, never by an absolute time.

The worker's clock is untrusted (student code runs there and could patch ``time.perf_counter``),
so the judge times everything itself:

- the student's call is the wall time of its round trip to the worker (sending the arguments and
  the reply included, which only makes the test harder; sizes are kept moderate so that this
  overhead is small next to the computation);
- the baseline is the trusted reference's naive function, run in the judge process.

Each round draws fresh inputs (memoising cannot help) and times the reference, then the student,
so that a machine that slows down slows both. Every timed student output is compared with the
reference's: a fast but wrong function fails as wrong, not as fast, and a known mistake is named.
One warm-up round comes first; then ``repeats`` timed rounds (``ctx.speed``: the topic's
``speed`` block in autograder.yml), and the check passes when
``median(reference) / median(student) >= min_ratio``.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.base import Context, Declared, Kind, Make, Outcome, SpeedSettings, Verdict
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.outputs import conform_outputs, describe_call
from grader.checks.reference import as_tuple, cache_positions, forward_cache, param_names
from grader.judge.expected import live_module
from grader.judge.student import Call

WARMUP_ROUNDS = 1  # untimed (but still checked) rounds before the timed ones


def _timed(action: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, value) of ``action(*args)`` on the judge's wall clock."""
    started = time.perf_counter()
    value = action(*args)
    return time.perf_counter() - started, value


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


@dataclass(frozen=True)
class Race:
    """The timed rounds of one speed check, in seconds (judge-side wall clock)."""

    function: str
    baseline: str
    student: tuple[float, ...]
    reference: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """How many times faster than the reference the student's function is (medians)."""
        student = statistics.median(self.student)
        return statistics.median(self.reference) / student if student > 0 else float("inf")

    def _speedup(self) -> str:
        if self.ratio >= 1:
            return f"{self.ratio:.3g}x faster"
        return f"only {self.ratio:.3g}x as fast (slower)"

    def describe(self, min_ratio: float) -> str:
        """``conv_forward_fast took 4.1 ms (median of 5), the naive reference ... 23x faster``."""
        return (
            f"{self.function} took {_ms(statistics.median(self.student))} (median of "
            f"{len(self.student)}), the naive reference {self.baseline} "
            f"{_ms(statistics.median(self.reference))}: {self._speedup()}, "
            f"at least {min_ratio:g}x required"
        )


GENERIC_ADVICE = "vectorise: replace the Python loops by whole-array numpy operations"


def _judge(race: Race, cfg: SpeedSettings, advice: str) -> Verdict:
    text = race.describe(cfg.min_ratio)
    if race.ratio >= cfg.min_ratio:
        return Verdict(Outcome.PASSED, text)
    how = (
        "\n  (timed by the grader, on fresh inputs each round, interleaved with the reference)"
        f"\n  {advice}"
    )
    return Verdict(Outcome.WRONG, text + how)


Round = Callable[[int], "tuple[float, float] | Verdict"]


def race(ctx: Context, function: str, baseline: str, one_round: Round, advice: str) -> Verdict:
    """Run the warm-up and timed rounds; ``one_round(k)`` returns (reference seconds, student
    seconds), or a ``wrong`` verdict when the student's output of round ``k`` is wrong."""
    cfg = ctx.speed
    student_times: list[float] = []
    reference_times: list[float] = []
    for k in range(WARMUP_ROUNDS + cfg.repeats):
        timed = one_round(k)
        if isinstance(timed, Verdict):
            return timed
        if k >= WARMUP_ROUNDS:
            reference_times.append(timed[0])
            student_times.append(timed[1])
    timings = Race(function, baseline, tuple(student_times), tuple(reference_times))
    return _judge(timings, cfg, advice)


@dataclass(frozen=True)
class Speed(Declared):
    """``function(*make(rng))`` in the worker against ``baseline(*same inputs)`` in the judge.

    ``outputs`` names the return values as for ``Reference`` (cache positions stay in the
    worker); the baseline's result is also the expected output of each timed call.
    """

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    baseline: str
    _: KW_ONLY
    tol: float = 1e-7
    advice: str = GENERIC_ADVICE  # what to try when too slow
    hidden: bool = False
    kind: Kind = Kind.SPEED

    def run(self, ctx: Context) -> Verdict:
        baseline = getattr(live_module(ctx.ref), self.baseline)  # timed: never a kept answer
        keep = cache_positions(self.outputs)

        def one_round(k: int) -> tuple[float, float] | Verdict:
            args = self.make(ctx.rng)
            ref_s, expected = _timed(baseline, *copy.deepcopy(args))
            expected = as_tuple(expected)
            student_s, reply = _timed(ctx.student.call, Call(self.function, args, keep=keep))
            got = conform_outputs(reply.value, expected, self.outputs, self.function)
            text = describe_call(self.function, param_names(ctx, self.function), args)
            seen = Observation(
                self.function,
                f"{text} (round {k + 1} of the speed check)",
                args,
                got,
                self.outputs,
                expected,
            )
            verdict = judge_outputs(ctx, seen, self.tol, f"the reference {self.baseline}")
            return (ref_s, student_s) if verdict.passed else verdict

        return race(ctx, self.function, self.baseline, one_round, self.advice)


@dataclass(frozen=True)
class BackwardSpeed(Declared):
    """A backward pass against the naive reference backward; only the backward call is timed.

    Each round runs the student's ``forward`` (its cache kept in the worker behind a handle) and
    the reference's ``baseline_forward`` on the same fresh inputs, untimed; then times
    ``baseline(dout, reference cache)`` in the judge and ``function(dout, handle)`` in the
    worker, and compares the gradients.
    """

    topic: str
    function: str
    forward: str
    case: str
    make: Make
    grads: tuple[str, ...]
    baseline: str
    baseline_forward: str
    _: KW_ONLY
    tol: float = 1e-7
    advice: str = GENERIC_ADVICE
    hidden: bool = False
    kind: Kind = Kind.SPEED

    def run(self, ctx: Context) -> Verdict:
        baseline = getattr(live_module(ctx.ref), self.baseline)  # timed: never a kept answer

        def one_round(k: int) -> tuple[float, float] | Verdict:
            args = self.make(ctx.rng)
            out_ref, cache_ref = getattr(ctx.ref, self.baseline_forward)(*copy.deepcopy(args))
            dout = ctx.rng.standard_normal(np.shape(out_ref))
            handle = forward_cache(ctx, self.forward, args, out_ref)
            ref_s, expected = _timed(baseline, dout.copy(), cache_ref)
            expected = as_tuple(expected)
            student_s, reply = _timed(ctx.student.call, Call(self.function, (dout, handle)))
            got = conform_outputs(reply.value, expected, self.grads, self.function)
            text = (
                f"{self.function}(dout {dout.shape}, cache) after "
                f"{describe_call(self.forward, param_names(ctx, self.forward), args)} "
                f"(round {k + 1} of the speed check)"
            )
            seen = Observation(self.function, text, (dout, *args), got, self.grads, expected)
            verdict = judge_outputs(ctx, seen, self.tol, f"the reference {self.baseline}")
            return (ref_s, student_s) if verdict.passed else verdict

        return race(ctx, self.function, self.baseline, one_round, self.advice)

"""Speed checks: a vectorised function is timed against the reference's own vectorised
function, both the same way, in the same grading run, never against an absolute time.

The worker's clock is untrusted (student code runs there and could patch ``time.perf_counter``),
so the judge times everything itself, as the wall time of a round trip to a worker: the
student's call in the student's worker, the baseline (the trusted reference's function) in a
worker of its own that runs the reference module (forked like any worker, never student code).
Both round trips carry the same arguments and replies, so the transport costs both the same and
a student as fast as the reference measures about 1.0. The baseline costs milliseconds (the
naive reference, hundreds of times slower, cost most of a submission's grading time).

Each round draws ``CALLS_PER_ROUND`` fresh inputs (memoising cannot help) and times one round
trip of those calls for the reference, then one for the student,
so that a machine that slows down slows both. Every timed student output is compared with the
reference's: a fast but wrong function fails as wrong, not as fast, and a known mistake is named.
One warm-up round comes first; then ``repeats`` timed rounds (``ctx.speed``: the topic's
``speed`` block in autograder.yml), and the check passes when
``median(reference) / median(student) >= min_ratio`` (0.2: at most 5 times slower). The rounds
stop early only when the race is lost whatever the rest would measure (``lost_already``): the
outcome is the one all of them would give, and a slow function, the costly case, costs less.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.base import Context, Declared, Kind, Make, Outcome, SpeedSettings, Verdict
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.outputs import conform_outputs, describe_call
from grader.checks.reference import as_tuple, cache_positions, forward_caches, param_names
from grader.judge.expected import source_path
from grader.judge.student import Call, StudentModule

WARMUP_ROUNDS = 1  # untimed (but still checked) rounds before the timed ones
# Calls in one timed round trip, each on inputs of its own (memoising cannot help): a sample of
# milliseconds, which a scheduler's blip of one millisecond does not turn into a verdict.
CALLS_PER_ROUND = 12


@contextmanager
def reference_worker(ctx: Context) -> Iterator[StudentModule]:
    """A worker running the reference module itself (trusted code, in the student's sandbox
    and limits), for the baseline of a race: timed exactly as the student's worker is."""
    student = ctx.student
    worker = StudentModule(
        source_path(ctx.ref),
        ctx.topic,
        student.sandbox,
        student.call_timeout,
        student.import_timeout,
    )
    try:
        yield worker
    finally:
        worker.close()


def in_release(ctx: Context) -> bool:
    """Is this the student release (or its recording), where no reference code runs? Then the
    race is against the student's own naive function (``grader.release.speed``)."""
    from grader.release.replay import DataReference

    return isinstance(ctx.ref, DataReference)


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
            return f"{self.ratio:.3g}x as fast"
        return f"{1 / self.ratio:.3g}x slower" if self.ratio > 0 else "infinitely slower"

    def describe(self, min_ratio: float) -> str:
        """``conv_forward_fast took 4.1 ms (median of 5), the reference ... 2.3x slower, at
        most 5x slower allowed`` (``min_ratio`` below 1: at most ``1/min_ratio`` times slower)."""
        wanted = (
            f"at least {min_ratio:g}x as fast required"
            if min_ratio >= 1
            else f"at most {1 / min_ratio:.3g}x slower allowed"
        )
        return (
            f"{self.function} took {_ms(statistics.median(self.student))} (median of "
            f"{len(self.student)}), the reference {self.baseline} "
            f"{_ms(statistics.median(self.reference))} timed the same way: "
            f"{self._speedup()}, {wanted}"
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
    if len(race.student) < cfg.repeats:
        how += (
            f"\n  (stopped after {len(race.student)} of {cfg.repeats} timed rounds: "
            "no later round could have made it fast enough)"
        )
    return Verdict(Outcome.WRONG, text + how)


def lost_already(
    student: list[float], reference: list[float], repeats: int, min_ratio: float
) -> bool:
    """Is the race lost whatever the rounds still to come measure? A median only grows when
    one of its values does, so the final ratio of medians is at most the reference's median
    with every round to come infinitely slow over the student's with every one taking no
    time: when even that is below ``min_ratio``, the verdict cannot change."""
    rest = repeats - len(student)
    best_reference = statistics.median([*reference, *[math.inf] * rest])
    best_student = statistics.median([*student, *[0.0] * rest])
    return 0 < best_student and best_reference / best_student < min_ratio


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
            if lost_already(student_times, reference_times, cfg.repeats, cfg.min_ratio):
                break  # a slow function costs most of a check's time: no round it cannot win
    timings = Race(function, baseline, tuple(student_times), tuple(reference_times))
    return _judge(timings, cfg, advice)


@dataclass(frozen=True)
class Speed(Declared):
    """``function(*make(rng))`` in the worker against ``baseline(*same inputs)`` in a worker
    running the reference.

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
        if in_release(ctx):
            from grader.release.speed import forward_race

            return forward_race(self, ctx)
        with reference_worker(ctx) as reference:
            return self._race(ctx, reference)

    def _race(self, ctx: Context, reference: StudentModule) -> Verdict:
        keep = cache_positions(self.outputs)

        def one_round(k: int) -> tuple[float, float] | Verdict:
            inputs = [self.make(ctx.rng) for _ in range(CALLS_PER_ROUND)]
            ref_s, answers = _timed(
                reference.batch, [Call(self.baseline, args, keep=keep) for args in inputs]
            )
            student_s, replies = _timed(
                ctx.student.batch, [Call(self.function, args, keep=keep) for args in inputs]
            )
            for args, answer, reply in zip(inputs, answers, replies):
                expected = as_tuple(answer.value)
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
                if not verdict.passed:
                    return verdict
            return ref_s, student_s

        return race(ctx, self.function, self.baseline, one_round, self.advice)


@dataclass(frozen=True)
class BackwardSpeed(Declared):
    """A backward pass against the reference's backward; only the backward call is timed.

    Each round runs the student's ``forward`` (its cache kept in the worker behind a handle) and
    the reference's ``baseline_forward`` (its cache kept in the reference's worker) on the same
    fresh inputs, untimed; then times ``baseline(dout, reference cache)`` and
    ``function(dout, handle)``, each in its worker, and compares the gradients.
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
        if in_release(ctx):
            from grader.release.speed import backward_race

            return backward_race(self, ctx)
        with reference_worker(ctx) as reference:
            return self._race(ctx, reference)

    def _race(self, ctx: Context, reference: StudentModule) -> Verdict:
        def one_round(k: int) -> tuple[float, float] | Verdict:
            inputs = [self.make(ctx.rng) for _ in range(CALLS_PER_ROUND)]
            forwards = [Call(self.baseline_forward, args, keep=[1]) for args in inputs]
            caches = [reply.value for reply in reference.batch(forwards)]
            douts = [ctx.rng.standard_normal(np.shape(out)) for out, _ in caches]
            handles = forward_caches(ctx, self.forward, inputs, [out for out, _ in caches])
            ref_s, answers = _timed(
                reference.batch,
                [Call(self.baseline, (d, cache)) for d, (_, cache) in zip(douts, caches)],
            )
            student_s, replies = _timed(
                ctx.student.batch, [Call(self.function, (d, h)) for d, h in zip(douts, handles)]
            )
            for args, dout, answer, reply in zip(inputs, douts, answers, replies):
                expected = as_tuple(answer.value)
                got = conform_outputs(reply.value, expected, self.grads, self.function)
                text = (
                    f"{self.function}(dout {dout.shape}, cache) after "
                    f"{describe_call(self.forward, param_names(ctx, self.forward), args)} "
                    f"(round {k + 1} of the speed check)"
                )
                seen = Observation(self.function, text, (dout, *args), got, self.grads, expected)
                verdict = judge_outputs(ctx, seen, self.tol, f"the reference {self.baseline}")
                if not verdict.passed:
                    return verdict
            return ref_s, student_s

        return race(ctx, self.function, self.baseline, one_round, self.advice)

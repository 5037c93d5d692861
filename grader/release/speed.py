"""Speed checks in the student release: the student's fast function against the student's own
naive one, as CS231n's notebooks time them (the release has no reference code to race).

One call on the check's first inputs is compared with the recorded reference answer, for the
fast function (a wrong fast function is wrong, and a known mistake is named, exactly as in the
instructor's grading) and for the naive one (a race against a wrong naive function proves
nothing: the check is then ``not_run`` and says to fix it first). Then ``ctx.speed.repeats``
timed rounds (after one warm-up round) of ``CALLS`` fresh inputs each: the naive function's
round trip, then the fast one's, both in the student's worker, timed by the judge; every fast
output must equal the naive one's. The check passes when the fast function is at least
``MIN_RATIO`` times as fast (medians). The instructor's grading keeps racing the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.base import Context, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, judge_outputs
from grader.checks.outputs import conform_outputs, describe_call
from grader.checks.reference import (
    as_tuple,
    backward_pass,
    cache_positions,
    forward_caches,
    param_names,
    student_and_reference,
)
from grader.checks.speed import _timed, race
from grader.judge.student import Call

MIN_RATIO = 2.0  # a fast function that only calls the naive one measures about 1.0
CALLS = 3  # per timed round trip: the naive loops take tens of milliseconds a call


def naive_of(function: str) -> str:
    """The naive twin of a fast function by the course's naming (``conv_forward_fast`` ->
    ``conv_forward_naive``)."""
    return function.replace("_fast", "_naive")


def _not_run(naive: str, verdict: Verdict) -> Verdict:
    first = (verdict.message or verdict.outcome.value).splitlines()[0]
    return Verdict(
        Outcome.NOT_RUN,
        f"the release times your fast function against your {naive}, which is not right yet "
        f"({verdict.outcome.value}: {first}); make {naive} pass first",
    )


def _same(function: str, naive: str, got: tuple, want: tuple, names: tuple, tol: float):
    """None when ``got`` matches the naive function's ``want``, else the wrong verdict."""
    comparisons = compare_outputs(names, got, want, tol)
    bad = [c for c in comparisons if not c.ok]
    if not bad:
        return None
    return Verdict(
        Outcome.WRONG,
        f"{function} (in a timed round) differs from your {naive}: " + bad[0].describe(),
    )


def _verdict(raced: Verdict, naive: str) -> Verdict:
    """The race's verdict, worded for the naive baseline."""
    text = raced.message.replace("interleaved with the reference", f"interleaved with {naive}")
    return Verdict(raced.outcome, text.replace("the reference ", "your "))


def forward_race(check: Any, ctx: Context) -> Verdict:
    """``grader.checks.speed.Speed`` in a release (module docstring)."""
    naive, names = naive_of(check.function), check.outputs
    args = check.make(ctx.rng)
    for fn in (check.function, naive):
        got, expected = student_and_reference(ctx, fn, args, names)
        text = describe_call(fn, param_names(ctx, fn), args)
        verdict = judge_outputs(
            ctx, Observation(fn, text, args, got, names, expected), check.tol, "the reference"
        )
        if not verdict.passed:
            return verdict if fn == check.function else _not_run(naive, verdict)
    keep = cache_positions(names)

    def one_round(k: int) -> tuple[float, float] | Verdict:
        inputs = [check.make(ctx.rng) for _ in range(CALLS)]
        naive_s, wants = _timed(ctx.student.batch, [Call(naive, a, keep=keep) for a in inputs])
        fast_s, gots = _timed(
            ctx.student.batch, [Call(check.function, a, keep=keep) for a in inputs]
        )
        for want, got in zip(wants, gots):
            want_t = as_tuple(want.value)
            got_t = conform_outputs(got.value, want_t, names, check.function)
            if wrong := _same(check.function, naive, got_t, want_t, names, check.tol):
                return wrong
        return naive_s, fast_s

    return _verdict(_race(ctx, check, naive, one_round), naive)


def backward_race(check: Any, ctx: Context) -> Verdict:
    """``grader.checks.speed.BackwardSpeed`` in a release (module docstring)."""
    naive, naive_forward = naive_of(check.function), naive_of(check.forward)
    args = check.make(ctx.rng)
    for forward, backward in ((check.forward, check.function), (naive_forward, naive)):
        run = backward_pass(ctx, forward, backward, args, check.grads)
        verdict = judge_outputs(ctx, run.seen, check.tol, "the reference backward")
        if not verdict.passed:
            return verdict if backward == check.function else _not_run(naive, verdict)

    def one_round(k: int) -> tuple[float, float] | Verdict:
        inputs = [check.make(ctx.rng) for _ in range(CALLS)]
        naive_calls = [Call(naive_forward, a, keep=[1]) for a in inputs]
        naive_runs = [r.value for r in ctx.student.batch(naive_calls)]
        outs = [np.asarray(r[0]) for r in naive_runs]
        handles = forward_caches(ctx, check.forward, inputs, outs)
        douts = [ctx.rng.standard_normal(np.shape(out)) for out in outs]
        naive_s, wants = _timed(
            ctx.student.batch, [Call(naive, (d, r[1])) for d, r in zip(douts, naive_runs)]
        )
        fast_s, gots = _timed(
            ctx.student.batch, [Call(check.function, (d, h)) for d, h in zip(douts, handles)]
        )
        for want, got in zip(wants, gots):
            want_t = as_tuple(want.value)
            got_t = conform_outputs(got.value, want_t, check.grads, check.function)
            if wrong := _same(check.function, naive, got_t, want_t, check.grads, check.tol):
                return wrong
        return naive_s, fast_s

    return _verdict(_race(ctx, check, naive, one_round), naive)


def _race(ctx: Context, check: Any, naive: str, one_round: Any) -> Verdict:
    """``grader.checks.speed.race`` with the release's ratio (against the naive function)."""
    speed = ctx.speed
    ctx.speed = type(speed)(min_ratio=MIN_RATIO, repeats=speed.repeats)
    try:
        return race(ctx, check.function, naive, one_round, check.advice)
    finally:
        ctx.speed = speed

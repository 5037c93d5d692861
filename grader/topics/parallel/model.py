"""Checks of the ``parallel`` topic that the generic kinds cannot express: the split net's
backward after a forward that returns ``(out, sent, cache)``, its numeric gradient, and inputs
left unchanged when they are lists of arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.gradient import GradientPair, gradient_verdict, numeric_gradient
from grader.checks.hygiene import _same
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.reference import param_names, reference_outputs
from grader.judge.student import Call
from grader.protocol.values import Handle
from grader.topics.parallel.mistakes import BACKWARD, FORWARD

OUT = ("out", "sent", CACHE)
GRADS = ("dx", "dW1", "db1", "dW2", "db2")
TOL = 1e-7


def _student_cache(ctx: Context, args: tuple) -> Handle:
    expected = reference_outputs(ctx, FORWARD, args)
    reply = ctx.student.call(Call(FORWARD, args, keep=[2]))
    got = conform_outputs(reply.value, expected, OUT, FORWARD)
    if not isinstance(got[2], Handle):
        raise fail(Outcome.BAD_OUTPUT, f"{FORWARD} did not return (out, sent, cache)")
    return got[2]


def _backward(ctx: Context, args: tuple) -> tuple[np.ndarray, Observation]:
    """Student forward then backward on a random dout, next to the reference's gradients."""
    out_ref, _, cache_ref = getattr(ctx.ref, FORWARD)(*[np.copy(a) for a in args])
    dout = ctx.rng.standard_normal(out_ref.shape)
    expected = getattr(ctx.ref, BACKWARD)(dout.copy(), cache_ref)
    handle = _student_cache(ctx, args)
    reply = ctx.student.call(Call(BACKWARD, (dout, handle)))
    got = conform_outputs(reply.value, expected, GRADS, BACKWARD)
    text = (
        f"{BACKWARD}(dout {dout.shape}, cache) after "
        f"{describe_call(FORWARD, param_names(ctx, FORWARD), args)}"
    )
    return dout, Observation(BACKWARD, text, (dout, *args), got, GRADS, expected)


def backward_reference(make: Make) -> Callable[[Context], Verdict]:
    def body(ctx: Context) -> Verdict:
        _, seen = _backward(ctx, make(ctx.rng))
        return judge_outputs(ctx, seen, TOL, "the reference backward")

    return body


def backward_gradient(make: Make, mode: str = "elementwise") -> Callable[[Context], Verdict]:
    """Every gradient against the numeric gradient of sum(out * dout) of the student's forward."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        dout, seen = _backward(ctx, args)
        for index, name in enumerate(GRADS):

            def evaluate(points: list[np.ndarray], index: int = index) -> list[float]:
                calls = [
                    Call(FORWARD, args[:index] + (p,) + args[index + 1 :], pick=0) for p in points
                ]
                values = []
                for r in ctx.student.batch(calls):
                    if not (isinstance(r.value, np.ndarray) and r.value.shape == dout.shape):
                        raise fail(
                            Outcome.BAD_OUTPUT, f"{FORWARD} returned a wrong out for perturbed inputs"
                        )
                    values.append(float(np.sum(r.value * dout)))
                return values

            numeric, dirs = numeric_gradient(ctx, args[index], evaluate, mode, 4)
            verdict = gradient_verdict(
                ctx,
                seen,
                GradientPair(name, seen.got[index], numeric, dirs),
                1e-6,
                f"the numeric gradient of your own {FORWARD}",
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def lists_unchanged(function: str, make: Make) -> Callable[[Context], Verdict]:
    """The call leaves its arguments, lists of arrays included, as they were."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        reply = ctx.student.call(Call(function, args, echo=list(range(len(args)))))
        conform_outputs(
            reply.value,
            tuple(reference_outputs(ctx, function, args)),
            ("buffers",),
            function,
        )
        names = param_names(ctx, function)
        changed = [names[i] for i, after in enumerate(reply.echo) if not _same(args[i], after)]
        if not changed:
            return PASS
        text = (
            f"{describe_call(function, names, args)} modified its input(s) {', '.join(changed)}; "
            "copy the chunks first (a worker's buffer is its own: [c.copy() for c in ...])"
        )
        if ctx.mutation_policy == "fail":
            return Verdict(Outcome.WRONG, text)
        return Verdict(Outcome.PASSED, "warning: " + text, warnings=(text,))

    return body

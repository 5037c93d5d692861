"""Checks of the ``parallel`` topic that the generic kinds cannot express: the split net's
backward after a forward that returns ``(out, sent, cache)``, its numeric gradient, inputs left
unchanged when they are lists of arrays, and split_batch's chunks (whose sizes are the point:
a chunk of the wrong size is a wrong answer, compared with the known mistakes, not a malformed
one)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.checks.base import PASS, Context, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, judge_outputs, reference_inputs
from grader.checks.gradient import GradientPair, gradient_verdict, numeric_gradient
from grader.checks.hygiene import _same
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.reference import param_names, reference_outputs
from grader.judge.student import Call
from grader.protocol.values import Handle
from grader.topics.parallel.mistakes import BACKWARD, FORWARD, SPLIT

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
                            Outcome.BAD_OUTPUT,
                            f"{FORWARD} returned a wrong out for perturbed inputs",
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


def _chunks(value: object, K: int) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """``value`` as (X_chunks, y_chunks) when it is two sequences of K arrays, else None."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return None
    parts = []
    for part in value:
        if not (isinstance(part, (tuple, list)) and len(part) == K):
            return None
        if not all(isinstance(c, np.ndarray) for c in part):
            return None
        parts.append(list(part))
    return parts[0], parts[1]


def _same_chunks(a: tuple[list, list], b: tuple[list, list]) -> bool:
    return all(
        x.shape == y.shape and np.array_equal(x, y) for pa, pb in zip(a, b) for x, y in zip(pa, pb)
    )


def split_matches(make: Make) -> Callable[[Context], Verdict]:
    """split_batch's chunks equal the reference's exactly (shapes, values, order); a wrong split
    is compared with each known mistake's chunks to name it."""

    def body(ctx: Context) -> Verdict:
        args = make(ctx.rng)
        X, _, K = args
        expected = reference_outputs(ctx, SPLIT, args)
        reply = ctx.student.call(Call(SPLIT, args))
        got = _chunks(reply.value, K)
        text = describe_call(SPLIT, param_names(ctx, SPLIT), args)
        if got is None:
            return Verdict(
                Outcome.BAD_OUTPUT,
                f"{text}: expected (X_chunks, y_chunks), two lists of K={K} arrays",
            )
        if _same_chunks(got, expected):
            return PASS
        sizes = [len(c) for c in got[0]]
        want = [len(c) for c in expected[0]]
        message = (
            f"{text}: the chunks differ from np.array_split's; chunk sizes {sizes} "
            f"(sum {sum(sizes)}), expected {want} (sum {len(X)})"
        )
        if sizes == want:
            message += "; sizes agree but the examples differ (keep the batch's order)"
        for mistake in ctx.misconceptions:
            if mistake.function != SPLIT:
                continue
            try:
                model_out = mistake.variant(ctx.ref, *reference_inputs(list(args)))
            except Exception:  # a model that cannot apply here does not match
                continue
            if _same_chunks(model_out, expected) or not _same_chunks(got, model_out):
                continue
            return Verdict(
                Outcome.WRONG,
                f"{message}\n  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}",
                misconception=mistake.name,
            )
        return Verdict(Outcome.WRONG, message)

    return body

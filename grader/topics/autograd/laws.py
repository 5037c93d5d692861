"""Topic ``autograd``, part five: the bodies of the Value checks.

Every body draws a program from the check's rng, replays it on the student's Value
(``replay``) and judges what it reads (``verdicts``) against the reference engine
(``engines``), against a law (add passes the gradient unchanged, mul swaps, relu routes to the
larger input) or against the numeric gradient of the student's own forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from grader.checks.base import PASS, Context, Outcome, Verdict, fail
from grader.checks.diagnose import compare_outputs, mismatch_verdict
from grader.checks.gradient import ADVICE
from grader.checks.raises import expect_value_error
from grader.judge import numgrad
from grader.judge.compare import Comparison, gradient_error, relative_error
from grader.judge.student import Call, StudentFault
from grader.protocol.values import Handle
from grader.topics.autograd import engines, replay
from grader.topics.autograd.engines import GRAD_SHAPE_UNCHECKED
from grader.topics.autograd.programs import Make, Program
from grader.topics.autograd.verdicts import (
    grad_names,
    grad_verdict,
    judge_graph,
    named_fault,
    observation,
    replay_programs,
    run_one,
    student_grads,
    title,
    with_listing,
)

Body = Callable[[Context], Verdict]
H = 1e-6  # numeric gradient step: random programs curve more than a layer (1e-5 elsewhere)


# -- bodies --------------------------------------------------------------------------------------
def against_reference(make: Make, tol: float = 1e-7) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        return judge_graph(ctx, program, run_one(ctx, program), tol)

    return body


def law(make: Make, text: str, want: Callable[[Program], dict[int, np.ndarray]]) -> Body:
    """The grads of some nodes must equal ``want(program)`` (a local rule of the course notes)."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        seen = run_one(ctx, program)
        expected = list(engines.reference(ctx.ref, program)[1])
        got = student_grads(ctx, program, seen.grads, expected)
        wanted = want(program)
        comparisons = [
            relative_error(f"n{i}.grad", got[i], w, 1e-12)
            for i, w in sorted(wanted.items(), reverse=True)
        ]
        if all(c.ok for c in comparisons):
            return PASS
        seen_obs = observation(program, got, expected)
        verdict = mismatch_verdict(ctx, seen_obs, comparisons, 1e-12, "the rule")
        return with_listing(verdict, program, f"the rule: {text}")

    return body


def _flat(program: Program) -> np.ndarray:
    return np.concatenate([x.ravel() for x in program.leaves])


def _unflat(program: Program, theta: np.ndarray) -> list[np.ndarray]:
    out, at = [], 0
    for x in program.leaves:
        out.append(theta[at : at + x.size].reshape(x.shape))
        at += x.size
    return out


def _per_leaf(
    program: Program, analytic: np.ndarray, found: numgrad.Numeric, tol: float
) -> list[Comparison]:
    """Each leaf's grad against its numeric gradient, judged as one gradient: the relative
    error's floor is 1e-4 of the largest entry over all leaves (a leaf whose gradient is 0
    everywhere is judged against the others' scale, not against the roundoff of its own zeros)."""
    whole = gradient_error("all", analytic, found.values, tol, found.roundoff)
    scale = max(np.max(np.abs(analytic), initial=0.0), np.max(np.abs(found.values), initial=0.0))
    floor = max(1e-8, 1e-4 * float(scale)) if np.isfinite(scale) else 1e-8
    parts = zip(_unflat(program, analytic), _unflat(program, found.values))
    return [
        replace(
            relative_error(f"n{i}.grad", a, n, tol, floor=floor, slack=found.roundoff),
            metric=whole.metric.replace("1e-4*scale", "1e-4*scale of every leaf's grad"),
        )
        for i, (a, n) in enumerate(parts)
    ]


def numeric(make: Make, mode: str, directions: int = 4, tol: float = 1e-5) -> Body:
    """The student's leaf grads against the numeric gradient of sum(upstream * output) of the
    student's own forward pass (the program and every perturbed copy replayed side by side, so
    the check costs the round trips of one replay)."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        step = program.steps[0]
        upstream = np.ones(program.shapes[-1]) if step.grad is None else step.grad
        main: list[replay.Seen] = []

        def evaluate(points: list[np.ndarray]) -> list[float]:
            """The program itself (backward, every grad read) and its perturbed copies
            (forward only, the output read), replayed side by side."""
            copies = [program.with_leaves(_unflat(program, p)).with_steps(()) for p in points]
            seen = replay_programs(ctx, [program, *copies], ["all"] + ["root"] * len(copies))
            main.append(seen[0])
            values = []
            for s in seen[1:]:
                out = replay.array(s.data[0], upstream.shape, f"n{program.root}.data")
                if out.shape != upstream.shape:
                    raise fail(
                        Outcome.BAD_OUTPUT,
                        f"n{program.root}.data changed shape for perturbed leaves",
                    )
                values.append(float(np.sum(upstream * out)))
            return values

        theta = _flat(program)
        expected = list(engines.reference(ctx.ref, program)[1])
        if mode == "elementwise":
            found = numgrad.elementwise(evaluate, theta, H)
        else:
            dirs = numgrad.random_directions(ctx.rng, theta.shape, directions)
            found = numgrad.directional(evaluate, theta, dirs, H)
        got = student_grads(ctx, program, main[0].grads, expected)
        analytic = np.concatenate([got[i].ravel() for i in range(len(program.leaves))])
        if mode == "elementwise":
            comparisons = _per_leaf(program, analytic, found, tol)
        else:
            along = dirs @ analytic
            comparisons = [
                gradient_error(
                    f"the leaves' grads along {directions} random directions",
                    along,
                    found.values,
                    tol,
                    found.roundoff,
                )
            ]
        return grad_verdict(
            ctx,
            program,
            got,
            expected,
            comparisons,
            tol,
            "the numeric gradient of your own forward pass",
            ADVICE,
        )

    return body


# -- single properties ---------------------------------------------------------------------------
def construction(ctx: Context) -> Verdict:
    """Value(int array), Value(nested list), Value(float): float64 data, zero grad."""
    ints = ctx.rng.integers(-5, 6, (3, 4))
    nested = np.round(ctx.rng.uniform(-2, 2, (2, 3)), 3)
    number = round(float(ctx.rng.uniform(-3, 3)), 3)
    cases = [
        ("Value(int64 array (3, 4))", ints),
        ("Value(nested list 2x3)", nested.tolist()),
        (f"Value({number})", number),
    ]
    replies = ctx.student.batch([Call("Value", (c,), keep="all") for _, c in cases])
    handles = []
    for (text, _), reply in zip(cases, replies):
        if not isinstance(reply.value, Handle):
            return Verdict(Outcome.BAD_OUTPUT, f"{text} did not produce an object")
        handles.append(reply.value)
    reads = ctx.student.batch([replay.read(h, a) for h in handles for a in ("data", "grad")])
    for k, (text, c) in enumerate(cases):
        want = np.array(c, dtype=np.float64)
        data = replay.array(reads[2 * k].value, want.shape, f"{text}.data")
        grad = replay.array(reads[2 * k + 1].value, want.shape, f"{text}.grad")
        if data.shape != want.shape or not np.array_equal(data, want):
            return Verdict(
                Outcome.WRONG,
                f"{text}.data should be np.array(data, dtype=np.float64), of shape "
                f"{want.shape} with the same values; got shape {data.shape}",
            )
        if grad.shape != want.shape or np.any(grad != 0):
            return Verdict(
                Outcome.WRONG,
                f"{text}.grad should be zeros of data's shape {want.shape} before any backward()",
            )
    return PASS


def nonscalar_needs_grad(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        handles = replay.build(ctx, [program])[0]
        return expect_value_error(
            ctx,
            Call("backward", (), target=handles[-1]),
            f"n{program.root}.backward() on an output of shape {program.shapes[-1]}",
            "without grad, the seed is ones only for a scalar output; raise ValueError for a "
            "non-scalar one (pass grad instead)",
        )

    return body


def wrong_grad_shape(make: Make, shapes: tuple[tuple[int, ...], ...]) -> Body:
    """``backward(grad)`` with a grad of each of ``shapes`` (none the output's shape, each one
    that broadcasts against it, so that nothing downstream fails by itself) raises ValueError."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        handles = replay.build(ctx, [program])[0]
        for shape in shapes:
            grad = ctx.rng.standard_normal(shape)
            verdict = expect_value_error(
                ctx,
                Call("backward", (grad,), target=handles[-1]),
                f"n{program.root}.backward(grad of shape {shape}) on an output of shape "
                f"{program.shapes[-1]}",
                "the upstream gradient must have the output's shape (the docstring); check "
                "grad.shape == self.data.shape before seeding and raise ValueError otherwise "
                "(a grad that broadcasts would silently give every node a wrong gradient)",
                (GRAD_SHAPE_UNCHECKED, engines.HINTS[GRAD_SHAPE_UNCHECKED]),
            )
            if not verdict.passed:
                return verdict
        return PASS

    return body


def leaves_unchanged(make: Make) -> Body:
    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        seen = run_one(ctx, program)
        for i, x in enumerate(program.leaves):
            data = replay.array(seen.data[i], x.shape, f"n{i}.data")
            if data.shape != x.shape or not np.array_equal(data, x):
                return with_listing(
                    Verdict(
                        Outcome.WRONG,
                        f"{title(program)}: n{i}.data (a leaf) changed during the forward "
                        "and backward passes; operations must return new Values and never "
                        "modify data in place",
                    ),
                    program,
                )
        return PASS

    return body


def two_graphs(make: Make) -> Body:
    """The same program built twice from fresh leaves: backward on both, then both read. The
    grads must agree (to roundoff) and match the reference: no state shared between graphs."""

    def body(ctx: Context) -> Verdict:
        (program,) = make(ctx.rng)
        first, second = replay.build(ctx, [program, program])
        calls = [replay.step_call(s, h[-1]) for h in (first, second) for s in program.steps]
        calls += [replay.read(h, "grad") for h in first + second]
        try:
            replies = ctx.student.batch(calls)[len(program.steps) * 2 :]
        except StudentFault as fault:
            raise named_fault(ctx, program, fault) from None
        values = [r.value for r in replies]
        expected = list(engines.reference(ctx.ref, program)[1])
        a = student_grads(ctx, program, values[: program.size], expected)
        b = student_grads(ctx, program, values[program.size :], expected)
        for i in range(program.size):
            cmp = relative_error(f"n{i}.grad", b[i], a[i], 1e-12)
            if not cmp.ok:
                return with_listing(
                    Verdict(
                        Outcome.WRONG,
                        f"{title(program)}, built twice from fresh leaves with one "
                        f"backward() each: the two graphs disagree on n{i}.grad (state shared "
                        f"between Values? a class attribute?).\n  {cmp.describe()}",
                    ),
                    program,
                )
        names = grad_names(program)
        comparisons = compare_outputs(names[::-1], a[::-1], expected[::-1], 1e-7)
        return grad_verdict(ctx, program, a, expected, comparisons, 1e-7, "the reference engine")

    return body

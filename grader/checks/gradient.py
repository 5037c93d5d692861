"""Gradient checks: the student's analytic gradient against the numeric gradient of the
student's own forward computation (centered differences in float64, evaluated in one batch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.checks.base import PASS, Context, Declared, Kind, Outcome, Verdict, fail
from grader.checks.diagnose import mismatch_verdict
from grader.checks.outputs import describe_call, is_real_scalar
from grader.checks.reference import Make, backward_pass, param_names, student_and_reference
from grader.judge import numgrad
from grader.judge.compare import gradient_error
from grader.judge.student import Call

H = 1e-5


def _replace(args: tuple, index: int, value: np.ndarray) -> tuple:
    return args[:index] + (value,) + args[index + 1 :]


def numeric_gradient(ctx, x, evaluate, mode: str, k: int):
    """(numeric, directions): full gradient, or derivatives along ``k`` random directions."""
    if mode == "elementwise":
        return numgrad.elementwise(evaluate, x, H), None
    dirs = numgrad.random_directions(ctx.rng, x.shape, k)
    return numgrad.directional(evaluate, x, dirs, H), dirs


ADVICE = (
    "your backward pass disagrees with your own forward pass: differentiate the forward "
    "computation step by step (chain rule) and check each local gradient."
)


def gradient_verdict(
    ctx,
    text,
    fn,
    inputs,
    got,
    names,
    analytic,
    numeric,
    dirs,
    grad_name,
    tol,
    subject,
    expected,
    advice: str = ADVICE,
):
    """PASS when ``analytic`` matches the numeric gradient (along ``dirs`` when given); else
    the mismatch verdict with ``advice`` appended."""
    if dirs is not None:
        analytic_d = np.tensordot(dirs, analytic, axes=analytic.ndim)
        cmp = gradient_error(
            f"{grad_name} along {len(dirs)} random directions",
            analytic_d,
            numeric.values,
            tol,
            numeric.roundoff,
        )
    else:
        cmp = gradient_error(grad_name, analytic, numeric.values, tol, numeric.roundoff)
    if cmp.ok:
        return PASS
    verdict = mismatch_verdict(ctx, text, fn, inputs, got, names, [cmp], tol, subject, expected)
    message = f"{verdict.message}\n  {advice}"
    return Verdict(verdict.outcome, message, misconception=verdict.misconception)


@dataclass(frozen=True)
class LossGradient(Declared):
    """``function`` returns ``(value, grad)``: grad must be d value / d args[wrt]."""

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    wrt: int = 0
    mode: str = "elementwise"
    directions: int = 4
    tol: float = 1e-6
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        got, expected = student_and_reference(ctx, self.function, args, self.outputs)

        def evaluate(points):
            replies = ctx.student.batch(
                [Call(self.function, _replace(args, self.wrt, p)) for p in points]
            )
            values = []
            for r in replies:
                if not (isinstance(r.value, tuple) and r.value and is_real_scalar(r.value[0])):
                    raise fail(
                        Outcome.BAD_OUTPUT,
                        f"{self.function} stopped returning a scalar loss for perturbed inputs",
                    )
                values.append(float(r.value[0]))
            return values

        numeric, dirs = numeric_gradient(ctx, args[self.wrt], evaluate, self.mode, self.directions)
        names = param_names(ctx, self.function)
        text = describe_call(self.function, names, args)
        return gradient_verdict(
            ctx,
            text,
            self.function,
            args,
            got,
            self.outputs,
            got[1],
            numeric,
            dirs,
            self.outputs[1],
            self.tol,
            f"the numeric gradient of your own {self.outputs[0]}",
            expected,
        )


@dataclass(frozen=True)
class LayerGradient(Declared):
    """``backward(dout, cache)`` must be the gradient of ``sum(forward(*args)[0] * dout)``."""

    topic: str
    function: str  # the backward function
    forward: str
    case: str
    make: Make
    grads: tuple[str, ...]
    wrt: tuple[int, ...] = (0,)
    mode: str = "elementwise"
    directions: int = 4
    tol: float = 1e-6
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        run = backward_pass(ctx, self.forward, self.function, self.make(ctx.rng), self.grads)
        args, dout, got, expected, text = run.args, run.dout, run.got, run.expected, run.text
        for position, index in enumerate(self.wrt):

            def evaluate(points, index=index):
                replies = ctx.student.batch(
                    [Call(self.forward, _replace(args, index, p), pick=0) for p in points]
                )
                values = []
                for r in replies:
                    if not (isinstance(r.value, np.ndarray) and r.value.shape == dout.shape):
                        raise fail(
                            Outcome.BAD_OUTPUT,
                            f"{self.forward} returned a wrong out for perturbed inputs",
                        )
                    values.append(float(np.sum(r.value * dout)))
                return values

            numeric, dirs = numeric_gradient(ctx, args[index], evaluate, self.mode, self.directions)
            verdict = gradient_verdict(
                ctx,
                text,
                self.function,
                (dout, *args),
                got,
                self.grads,
                got[position],
                numeric,
                dirs,
                self.grads[position],
                self.tol,
                f"the numeric gradient of your own {self.forward}",
                expected,
            )
            if not verdict.passed:
                return verdict
        return PASS

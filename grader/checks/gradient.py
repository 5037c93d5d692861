"""Gradient checks: the student's analytic gradient against the numeric gradient of the
student's own forward computation (centered differences in float64, evaluated in one batch).

Zeros with a zero backward, or the identity with an identity backward, are consistent; so a
gradient check earns its points only when the student's forward is itself right on the same
inputs (``forward_verdict``, against the reference). When it is not, the check fails saying so,
and adds "your backward does not match your forward" when that is also true."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from grader.checks.anchor import anchor_verdict
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, judge_outputs, mismatch_verdict
from grader.checks.outputs import CACHE, describe_call, is_real_scalar
from grader.checks.reference import (
    BackwardRun,
    backward_pass,
    param_names,
    student_and_reference,
)
from grader.judge import numgrad
from grader.judge.compare import Comparison, gradient_error
from grader.judge.student import Call

H = 1e-5


def _replace(args: tuple, index: int, value: np.ndarray) -> tuple:
    return args[:index] + (value,) + args[index + 1 :]


def numeric_gradient(
    ctx: Context,
    x: np.ndarray,
    evaluate: numgrad.Evaluate,
    mode: str,
    k: int,
) -> tuple[numgrad.Numeric, np.ndarray | None]:
    """(numeric, directions): full gradient, or derivatives along ``k`` random directions."""
    if mode == "elementwise":
        return numgrad.elementwise(evaluate, x, H), None
    dirs = numgrad.random_directions(ctx.rng, x.shape, k)
    return numgrad.directional(evaluate, x, dirs, H), dirs


ADVICE = (
    "your backward pass disagrees with your own forward pass: differentiate the forward "
    "computation step by step (chain rule) and check each local gradient."
)


@dataclass(frozen=True)
class GradientPair:
    """One analytic gradient next to the numeric gradient it must match: along ``directions``
    (``numeric`` holds the directional derivatives) or, with ``directions`` None, elementwise."""

    name: str  # "dx"
    analytic: np.ndarray
    numeric: numgrad.Numeric
    directions: np.ndarray | None = None

    def compare(self, tol: float) -> Comparison:
        if self.directions is None:
            return gradient_error(
                self.name, self.analytic, self.numeric.values, tol, self.numeric.roundoff
            )
        along = np.tensordot(self.directions, self.analytic, axes=self.analytic.ndim)
        return gradient_error(
            f"{self.name} along {len(self.directions)} random directions",
            along,
            self.numeric.values,
            tol,
            self.numeric.roundoff,
        )


def gradient_verdict(
    ctx: Context,
    seen: Observation,
    pair: GradientPair,
    tol: float,
    against: str,
    advice: str = ADVICE,
) -> Verdict:
    """PASS when ``pair`` agrees; else the mismatch verdict on ``seen`` with ``advice``."""
    comparison = pair.compare(tol)
    if comparison.ok:
        return PASS
    verdict = mismatch_verdict(ctx, seen, [comparison], tol, against)
    message = f"{verdict.message}\n  {advice}"
    return Verdict(verdict.outcome, message, misconception=verdict.misconception)


FORWARD_TOL = 1e-6  # the forward must match the reference this well for a gradient to count


def forward_verdict(ctx: Context, seen: Observation, tol: float = FORWARD_TOL) -> Verdict:
    """PASS when the student's forward outputs in ``seen`` match the reference's."""
    return judge_outputs(ctx, seen, tol, "the reference")


def layer_forward_seen(ctx: Context, forward: str, run: BackwardRun) -> Observation:
    """The student's forward ``out`` of a backward run, next to the reference's."""
    text = describe_call(forward, param_names(ctx, forward), run.args)
    return Observation(
        forward, text, run.args, (run.out, None), ("out", CACHE), (run.out_ref, None)
    )


def with_forward(
    forward: Verdict, gradient: Verdict, forward_name: str, ctx: Context | None = None, fn: str = ""
) -> Verdict:
    """``gradient`` when the forward was right; else a failure that says the forward is wrong
    (a gradient consistent with a wrong forward earns nothing), and whether the backward also
    disagrees with that forward.

    The forward's known mistake is the result's only when ``fn`` (the checked function) has a
    mistake of that name too (a backward's check does not name its forward's mistake); the
    message says it either way."""
    if forward.passed:
        return gradient
    named = forward.misconception
    if (
        ctx is not None
        and named
        and not any(m.function == fn and m.name == named for m in ctx.misconceptions)
    ):
        named = None
    lines = [
        f"{forward_name} is wrong on the inputs of this gradient check, so agreeing with its "
        "numeric gradient earns nothing: fix the forward first.",
        forward.message,
    ]
    if not gradient.passed:
        lines.append("  and your backward does not match your forward either:")
        lines.append("  " + gradient.message.replace("\n", "\n  "))
    return Verdict(
        Outcome.WRONG,
        "\n".join(lines),
        misconception=named or gradient.misconception,
    )


@dataclass(frozen=True)
class LossGradient(Declared):
    """``function`` returns ``(value, grad)``: grad must be d value / d args[wrt]."""

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    _: KW_ONLY
    wrt: int = 0
    mode: str = "elementwise"
    directions: int = 4
    tol: float = 1e-6
    hidden: bool = False
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        got, expected = student_and_reference(ctx, self.function, args, self.outputs)

        def evaluate(points: list[np.ndarray]) -> list[float]:
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
        text = describe_call(self.function, param_names(ctx, self.function), args)
        seen = Observation(self.function, text, args, got, self.outputs, expected)
        value_only = (self.outputs[0], CACHE)  # the value compared, the gradient not
        forward = forward_verdict(
            ctx, Observation(self.function, text, args, got, value_only, expected)
        )
        gradient = gradient_verdict(
            ctx,
            seen,
            GradientPair(self.outputs[1], got[1], numeric, dirs),
            self.tol,
            f"the numeric gradient of your own {self.outputs[0]}",
        )
        return with_forward(forward, gradient, f"your {self.outputs[0]}")


@dataclass(frozen=True)
class LayerGradient(Declared):
    """``backward(dout, cache)`` must be the gradient of ``sum(forward(*args)[0] * dout)``."""

    topic: str
    function: str  # the backward function
    forward: str
    case: str
    make: Make
    grads: tuple[str, ...]
    _: KW_ONLY
    wrt: tuple[int, ...] = (0,)
    mode: str = "elementwise"
    directions: int = 4
    tol: float = 1e-6
    hidden: bool = False
    # how the forward is known right: "reference" (its out on these inputs), or "anchor" (the
    # forward's anchor, for a forward whose out is not fixed by the inputs: a random mask)
    forward_against: str = "reference"
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        run = backward_pass(ctx, self.forward, self.function, self.make(ctx.rng), self.grads)
        if self.forward_against == "anchor":  # right there, or wrong by a named mistake
            found = anchor_verdict(ctx, self.topic, self.forward)
            forward = PASS if found is None or found[1].misconception else found[1]
        else:
            forward = forward_verdict(ctx, layer_forward_seen(ctx, self.forward, run))
        gradients = self._gradients(ctx, run)
        return with_forward(forward, gradients, f"your {self.forward}", ctx, self.function)

    def _gradients(self, ctx: Context, run: BackwardRun) -> Verdict:
        args, dout = run.args, run.dout
        for position, index in enumerate(self.wrt):

            def evaluate(points: list[np.ndarray], index: int = index) -> list[float]:
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
                run.seen,
                GradientPair(self.grads[position], run.seen.got[position], numeric, dirs),
                self.tol,
                f"the numeric gradient of your own {self.forward}",
            )
            if not verdict.passed:
                return verdict
        return PASS

"""Checks of ``lstm_step_backward``, whose forward pass does not fit the ``(out, cache)`` shape:
``lstm_step_forward`` returns ``(next_h, next_c, cache)`` and the backward pass takes two
upstream gradients, ``dnext_h`` and ``dnext_c``.

The generic helpers in ``grader.checks.reference`` and ``grader.checks.gradient`` assume one
output and one upstream gradient; these two declarations do the same work for the LSTM step:
the student's forward keeps its cache in the worker (position 2), the student's backward gets
judge-chosen ``dnext_h`` and ``dnext_c``, and the gradients are compared with the reference
backward, or with the numeric gradient of ``sum(next_h * dnext_h + next_c * dnext_c)`` computed
from the student's own forward.
"""

from __future__ import annotations

import copy
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.anchor import Gated
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, judge_outputs
from grader.checks.gradient import (
    GradientPair,
    forward_verdict,
    gradient_verdict,
    numeric_gradient,
    with_forward,
)
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.reference import param_names
from grader.judge.student import Call
from grader.protocol.values import Handle

FORWARD = "lstm_step_forward"
BACKWARD = "lstm_step_backward"
STEP_OUT = ("next_h", "next_c", CACHE)
STEP_GRADS = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")


@dataclass(frozen=True)
class StepRun:
    """One student forward + backward of the LSTM step, next to the reference's: ``seen`` has
    the inputs ``(dnext_h, dnext_c, *args)`` (what the misconception variants of
    lstm_step_backward receive), the student's gradients and the reference backward's."""

    args: tuple
    dnext_h: np.ndarray
    dnext_c: np.ndarray
    seen: Observation
    forward: Observation | None = None  # the student's (next_h, next_c) and the reference's


def step_pass(ctx: Context, args: tuple) -> StepRun:
    next_h, next_c, cache_ref = ctx.ref.lstm_step_forward(*copy.deepcopy(args))
    dnext_h = ctx.rng.standard_normal(next_h.shape)
    dnext_c = ctx.rng.standard_normal(next_c.shape)
    expected = ctx.ref.lstm_step_backward(dnext_h.copy(), dnext_c.copy(), cache_ref)
    reply = ctx.student.call(Call(FORWARD, args, keep=[2]))
    got_fwd = conform_outputs(reply.value, (next_h, next_c, None), STEP_OUT, FORWARD)
    if not isinstance(got_fwd[2], Handle):
        raise fail(Outcome.BAD_OUTPUT, f"{FORWARD} did not return (next_h, next_c, cache)")
    reply = ctx.student.call(Call(BACKWARD, (dnext_h, dnext_c, got_fwd[2])))
    got = conform_outputs(reply.value, expected, STEP_GRADS, BACKWARD)
    text = (
        f"{BACKWARD}(dnext_h {dnext_h.shape}, dnext_c {dnext_c.shape}, cache) after "
        f"{describe_call(FORWARD, param_names(ctx, FORWARD), args)}"
    )
    seen = Observation(BACKWARD, text, (dnext_h, dnext_c, *args), got, STEP_GRADS, expected)
    forward = Observation(
        FORWARD,
        describe_call(FORWARD, param_names(ctx, FORWARD), args),
        args,
        (*got_fwd[:2], None),
        STEP_OUT,
        (next_h, next_c, None),
    )
    return StepRun(args, dnext_h, dnext_c, seen, forward)


@dataclass(frozen=True)
class StepBackwardReference(Gated, Declared):
    """The student's LSTM step gradients against the reference backward."""

    topic: str
    case: str
    make: Make
    _: KW_ONLY
    tol: float = 1e-7
    hidden: bool = False
    function: str = BACKWARD
    kind: Kind = Kind.REFERENCE

    def evaluate(self, ctx: Context) -> Verdict:
        run = step_pass(ctx, self.make(ctx.rng))
        return judge_outputs(ctx, run.seen, self.tol, "the reference backward")


@dataclass(frozen=True)
class StepGradient(Declared):
    """Each of the student's six gradients against the numeric gradient of
    ``sum(next_h * dnext_h + next_c * dnext_c)`` from the student's own lstm_step_forward:
    every element (``elementwise``) or along random directions (``directional``)."""

    topic: str
    case: str
    make: Make
    _: KW_ONLY
    mode: str = "elementwise"
    directions: int = 4
    tol: float = 1e-6
    hidden: bool = False
    function: str = BACKWARD
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        run = step_pass(ctx, self.make(ctx.rng))
        assert run.forward is not None
        forward = forward_verdict(ctx, run.forward)
        return with_forward(forward, self._gradients(ctx, run), f"your {FORWARD}", ctx, BACKWARD)

    def _gradients(self, ctx: Context, run: StepRun) -> Verdict:
        for index, name in enumerate(STEP_GRADS):

            def evaluate(points: list[np.ndarray], index: int = index) -> list[float]:
                calls = [
                    Call(FORWARD, run.args[:index] + (p,) + run.args[index + 1 :]) for p in points
                ]
                return [self._objective(r.value, run) for r in ctx.student.batch(calls)]

            numeric, dirs = numeric_gradient(
                ctx, run.args[index], evaluate, self.mode, self.directions
            )
            verdict = gradient_verdict(
                ctx,
                run.seen,
                GradientPair(name, run.seen.got[index], numeric, dirs),
                self.tol,
                f"the numeric gradient of your own {FORWARD}",
                advice="your backward pass disagrees with your own forward pass: differentiate "
                "next_h and next_c step by step (chain rule) and check each local gradient.",
            )
            if not verdict.passed:
                return verdict
        return PASS

    @staticmethod
    def _objective(value: Any, run: StepRun) -> float:
        shape = run.dnext_h.shape
        if not (
            isinstance(value, tuple)
            and len(value) == 3
            and all(isinstance(v, np.ndarray) and v.shape == shape for v in value[:2])
        ):
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{FORWARD} returned a wrong (next_h, next_c, cache) for perturbed inputs",
            )
        return float(np.sum(value[0] * run.dnext_h) + np.sum(value[1] * run.dnext_c))

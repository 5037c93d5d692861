"""Topic ``batchnorm``: checks of the state a batch-normalisation forward pass keeps in
``bn_param``, and of its ``mode`` validation.

A forward pass in train mode writes ``running_mean`` and ``running_var`` into the dict it was
given. The call runs in the worker, so the judge asks for that argument back after the call
(``Call(echo=[3])``) and compares ``(out, running_mean, running_var)`` with the reference's.
Each call receives a fresh copy of ``bn_param`` (arguments are serialised), so repeated calls
never see each other's running statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.anchor import Gated
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict
from grader.checks.diagnose import Observation, compare_outputs, diagnose, mismatch_verdict
from grader.checks.outputs import CACHE, conform, conform_outputs, describe_call
from grader.checks.reference import param_names
from grader.judge.student import Call, StudentFault

STATE = ("out", "running_mean", "running_var")
IGNORED = CACHE  # the engine's marker for an output position that is not compared
PARAM = 3  # position of bn_param in (x, gamma, beta, bn_param)


def reference_state(ctx: Context, function: str, args: tuple) -> tuple:
    """The reference's (out, running_mean, running_var) for ``args`` (on a copy)."""
    args = copy.deepcopy(args)
    out, _ = getattr(ctx.ref, function)(*args)
    return out, args[PARAM]["running_mean"], args[PARAM]["running_var"]


def student_state(ctx: Context, function: str, args: tuple, out_ref: np.ndarray) -> tuple:
    """The student's (out, running_mean, running_var); ``out`` structure checked, the running
    statistics as found in the echoed bn_param (None where missing), not yet checked."""
    reply = ctx.student.call(Call(function, args, keep=[1], echo=[PARAM]))
    out = conform_outputs(reply.value, (out_ref, None), ("out", CACHE), function)[0]
    param = reply.echo[0] if reply.echo else None
    if not isinstance(param, dict):
        return out, None, None
    return out, param.get("running_mean"), param.get("running_var")


def compared_names(compared: Sequence[str]) -> tuple[str, ...]:
    return tuple(n if n in compared else IGNORED for n in STATE)


@dataclass(frozen=True)
class StatefulForward(Gated, Declared):
    """``function(x, gamma, beta, bn_param)``: out and the running statistics left in bn_param
    (only those named in ``compared``) against the reference's."""

    topic: str
    function: str
    case: str
    make: Make
    _: KW_ONLY
    compared: tuple[str, ...] = STATE
    tol: float = 1e-7
    hidden: bool = False
    kind: Kind = Kind.REFERENCE

    def evaluate(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        expected = reference_state(ctx, self.function, args)
        got = student_state(ctx, self.function, args, expected[0])
        names = compared_names(self.compared)
        comparisons = compare_outputs(names[:1], got[:1], expected[:1], self.tol)
        if all(c.ok for c in comparisons):  # out is right: now the state must be, too
            stats = {n: e for n, e in zip(STATE[1:], expected[1:]) if n in self.compared}
            after = dict(zip(STATE[1:], got[1:]))
            conform(
                {k: v for k, v in after.items() if v is not None},
                stats,
                f"{self.function}: bn_param after the call (write the running statistics "
                "back into the dict you were given)",
            )
            comparisons = compare_outputs(names, got, expected, self.tol)
        if all(c.ok for c in comparisons):
            return PASS
        text = describe_call(self.function, param_names(ctx, self.function), args)
        seen = Observation(self.function, text, args, got, names, expected)
        verdict = mismatch_verdict(ctx, seen, comparisons, self.tol, "the reference")
        if _left_unchanged(args[PARAM], got, expected):
            return Verdict(
                verdict.outcome,
                verdict.message + "\n  bn_param still holds the running statistics it was "
                "given: store the updated ones in the dict passed in (bn_param['running_mean'] = "
                "...), not in a copy.",
                misconception=verdict.misconception,
            )
        return verdict


def _left_unchanged(param: dict, got: tuple, expected: tuple) -> bool:
    """True when the call should have changed running_mean but the dict still holds the old."""
    before, after, want = param.get("running_mean"), got[1], expected[1]
    return (
        isinstance(before, np.ndarray)
        and isinstance(after, np.ndarray)
        and after.shape == before.shape
        and np.array_equal(after, before)
        and not np.array_equal(want, before)
    )


def with_mistake_named(ctx: Context, verdict: Verdict, seen: Observation, tol: float) -> Verdict:
    """Add the known mistake that ``seen.got`` (one plain call on ``seen.inputs``) matches to a
    failed law's verdict."""
    if verdict.passed or verdict.misconception:
        return verdict
    mistake = diagnose(ctx, seen, tol)
    if mistake is None:
        return verdict
    message = (
        f"{verdict.message}\n  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}"
    )
    return Verdict(verdict.outcome, message, misconception=mistake.name)


def rejects_mode(function: str, make: Make, mode: str) -> Callable[[Context], Verdict]:
    """A property body: ``function`` called with ``bn_param['mode'] = mode`` raises ValueError."""

    def body(ctx: Context) -> Verdict:
        args: Any = make(ctx.rng)
        args = (*args[:PARAM], {**args[PARAM], "mode": mode})
        call = describe_call(function, param_names(ctx, function), args)
        try:
            ctx.student.call(Call(function, args))
        except StudentFault as fault:
            if fault.outcome != "exception":
                raise  # not implemented, timeout, crash: reported as such
            if fault.reason.startswith(f"{function} raised ValueError:"):
                return PASS
            return Verdict(
                Outcome.WRONG,
                f"{call} with mode {mode!r}: expected ValueError, but it "
                f"{fault.reason[len(function) + 1 :]}\n  raise ValueError for any mode other than "
                "'train' or 'test'.",
                staff=fault.staff,
            )
        return Verdict(
            Outcome.WRONG,
            f"{call} with mode {mode!r} returned normally; raise ValueError for any mode "
            "other than 'train' or 'test' (a typo such as 'eval' must not silently train).",
        )

    return body

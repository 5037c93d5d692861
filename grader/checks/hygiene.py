"""Hygiene checks: inputs left unchanged, and the same output for the same input."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.anchor import gate
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.checks.reference import cache_positions, param_names, reference_outputs
from grader.judge.student import Call


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b))
        )
    return type(a) is type(b) and (a == b or (a != a and b != b))


@dataclass(frozen=True)
class NoMutation(Declared):
    """The student's function must not modify its array arguments.

    Mutation is reported; ``ctx.mutation_policy`` (``warn`` or ``fail``, from autograder.yml)
    decides whether it costs the points.
    """

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    _: KW_ONLY
    hidden: bool = False
    kind: Kind = Kind.HYGIENE

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, self.evaluate(ctx))

    def evaluate(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        watched = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        reply = ctx.student.call(
            Call(self.function, args, keep=cache_positions(self.outputs), echo=watched)
        )
        conform_outputs(
            reply.value, reference_outputs(ctx, self.function, args), self.outputs, self.function
        )
        names = param_names(ctx, self.function)
        changed = [names[i] for i, after in zip(watched, reply.echo) if not _same(args[i], after)]
        if not changed:
            return PASS
        text = (
            f"{describe_call(self.function, names, args)} modified its input(s) "
            f"{', '.join(changed)}; work on copies (x.copy(), or out-of-place operations "
            "such as x = x - m instead of x -= m)."
        )
        if ctx.mutation_policy == "fail":
            return Verdict(Outcome.WRONG, text)
        return Verdict(Outcome.PASSED, "warning: " + text, warnings=(text,))


@dataclass(frozen=True)
class Deterministic(Declared):
    """Two calls with the same inputs return the same bytes (counted only for a function right
    at its anchor: a constant is deterministic)."""

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    _: KW_ONLY
    hidden: bool = False
    kind: Kind = Kind.HYGIENE

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, self.evaluate(ctx))

    def evaluate(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        keep = cache_positions(self.outputs)
        first, second = ctx.student.batch([Call(self.function, args, keep=keep)] * 2)
        expected = reference_outputs(ctx, self.function, args)
        for reply in (first, second):
            conform_outputs(reply.value, expected, self.outputs, self.function)
        a, b = first.value, second.value
        if CACHE in self.outputs and isinstance(a, tuple) and isinstance(b, tuple):
            a = tuple(v for v, n in zip(a, self.outputs) if n != CACHE)
            b = tuple(v for v, n in zip(b, self.outputs) if n != CACHE)
        if _same(a, b):
            return PASS
        return Verdict(
            Outcome.WRONG,
            f"{describe_call(self.function, param_names(ctx, self.function), args)} "
            "returned different values for the same inputs (global state? "
            "unseeded randomness? a result accumulated across calls?)",
        )

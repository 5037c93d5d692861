"""Reference comparison: the student's output against the reference on judge-chosen inputs."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from grader.checks.anchor import Gated, gate, record
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, judge_outputs, reference_inputs
from grader.checks.outputs import CACHE, conform_outputs, describe_call
from grader.judge.student import Call
from grader.protocol.values import Handle


def param_names(ctx: Context, function: str) -> list[str]:
    return list(inspect.signature(getattr(ctx.ref, function)).parameters)


def as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def reference_outputs(ctx: Context, function: str, args: tuple) -> tuple:
    """The reference's result for ``args`` (on a copy, seeds as generators), as a tuple."""
    return as_tuple(getattr(ctx.ref, function)(*reference_inputs(args)))


def student_and_reference(
    ctx: Context, function: str, args: tuple, names: Sequence[str]
) -> tuple[tuple, tuple]:
    """Call ``function(*args)`` in the worker (caches kept there) and in the reference; return
    (the student's outputs, structure checked; the reference's outputs), both as tuples."""
    expected = reference_outputs(ctx, function, args)
    reply = ctx.student.call(Call(function, args, keep=cache_positions(names)))
    return conform_outputs(reply.value, expected, names, function), expected


def cache_positions(names: Sequence[str]) -> list[int]:
    return [i for i, n in enumerate(names) if n == CACHE]


@dataclass(frozen=True)
class Reference(Declared):
    """Call ``function(*make(rng))`` in the student's module and in the reference; compare.

    A ``degenerate`` case is one whose answer a trivial function gives (``K=1``: nothing sent,
    sparsity 1: all zeros): it counts only when the function is also right at its anchor (see
    ``grader.checks.anchor``); the first other case of a function is its anchor."""

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    _: KW_ONLY
    tol: float = 1e-7
    hidden: bool = False
    degenerate: bool = False
    kind: Kind = Kind.REFERENCE

    @property
    def anchor_ok(self) -> bool:
        return self.kind is Kind.REFERENCE and not self.degenerate

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, record(ctx, self, self.evaluate(ctx)))

    def evaluate(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        got, expected = student_and_reference(ctx, self.function, args, self.outputs)
        text = describe_call(self.function, param_names(ctx, self.function), args)
        seen = Observation(self.function, text, args, got, self.outputs, expected)
        return judge_outputs(ctx, seen, self.tol, "the reference")


@dataclass(frozen=True)
class CalledAgain(Gated, Declared):
    """``function`` called on each argument tuple of ``make(rng)`` in turn (same shapes, other
    parameters), each result against the reference's: a cache keyed by shape, or state kept
    from the previous call, shows on a later call. ``stale`` names that mistake."""

    topic: str
    function: str
    case: str
    make: Callable[[np.random.Generator], list[tuple]]
    outputs: tuple[str, ...]
    _: KW_ONLY
    tol: float = 1e-7
    stale: str | None = None
    hidden: bool = False
    degenerate: bool = True  # never the anchor: it is a sequence, not one comparison
    kind: Kind = Kind.REFERENCE

    def evaluate(self, ctx: Context) -> Verdict:
        calls = self.make(ctx.rng)
        for i, args in enumerate(calls):
            got, expected = student_and_reference(ctx, self.function, args, self.outputs)
            text = describe_call(self.function, param_names(ctx, self.function), args)
            seen = Observation(self.function, text, args, got, self.outputs, expected)
            verdict = judge_outputs(ctx, seen, self.tol, "the reference")
            if verdict.passed:
                continue
            if i == 0:  # wrong on its own: the ordinary feedback
                return verdict
            mistake = next(
                (
                    m
                    for m in ctx.misconceptions
                    if m.function == self.function and m.name == self.stale
                ),
                None,
            )
            lines = [
                f"{self.function}: call {i} of this check matched the reference, call {i + 1}, "
                "with the same shapes and other parameters, does not: something was kept from "
                "the earlier call.",
                verdict.message,
            ]
            if mistake is not None:
                lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
            return Verdict(
                Outcome.WRONG,
                "\n".join(lines),
                misconception=mistake.name if mistake else verdict.misconception,
            )
        return PASS


@dataclass(frozen=True)
class BackwardReference(Declared):
    """Student forward (cache kept in the worker), then student backward on a random upstream
    gradient; the gradients are compared with the reference backward of the reference forward."""

    topic: str
    function: str  # the backward function
    forward: str
    case: str
    make: Make
    grads: tuple[str, ...]
    _: KW_ONLY
    tol: float = 1e-7
    hidden: bool = False
    degenerate: bool = False
    kind: Kind = Kind.REFERENCE

    @property
    def anchor_ok(self) -> bool:
        return self.kind is Kind.REFERENCE and not self.degenerate

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, record(ctx, self, self.evaluate(ctx)))

    def evaluate(self, ctx: Context) -> Verdict:
        run = backward_pass(ctx, self.forward, self.function, self.make(ctx.rng), self.grads)
        return judge_outputs(ctx, run.seen, self.tol, "the reference backward")


@dataclass(frozen=True)
class BackwardRun:
    """One student forward + backward on judge-chosen inputs, next to the reference's: ``seen``
    has the inputs ``(dout, *args)``, the student's gradients and the reference backward's."""

    args: tuple
    dout: np.ndarray
    seen: Observation
    out: Any = None  # the student's forward output on ``args``
    out_ref: Any = None  # the reference forward's


def backward_pass(
    ctx: Context, forward: str, backward: str, args: tuple, grads: tuple[str, ...]
) -> BackwardRun:
    """Student forward (cache kept in the worker), then student backward on a random ``dout``."""
    out_ref, cache_ref = getattr(ctx.ref, forward)(*copy.deepcopy(args))
    dout = ctx.rng.standard_normal(np.shape(out_ref))
    expected = as_tuple(getattr(ctx.ref, backward)(dout.copy(), cache_ref))
    out, handle = forward_out_and_cache(ctx, forward, args, out_ref)
    reply = ctx.student.call(Call(backward, (dout, handle)))
    got = conform_outputs(reply.value, expected, grads, backward)
    text = (
        f"{backward}(dout {dout.shape}, cache) after "
        f"{describe_call(forward, param_names(ctx, forward), args)}"
    )
    seen = Observation(backward, text, (dout, *args), got, grads, expected)
    return BackwardRun(args, dout, seen, out, out_ref)


def forward_out_and_cache(ctx: Context, forward: str, args: tuple, out_ref: Any) -> tuple:
    """Run the student's forward pass, check its ``out`` shape; return (out, cache handle)."""
    reply = ctx.student.call(Call(forward, args, keep=[1]))
    return out_and_cache(forward, reply.value, out_ref)


def forward_caches(ctx: Context, forward: str, inputs: list[tuple], outs_ref: list) -> list:
    """The student's forward pass on each of ``inputs`` in one round trip, each ``out`` shape
    checked; return the cache handles."""
    replies = ctx.student.batch([Call(forward, args, keep=[1]) for args in inputs])
    return [out_and_cache(forward, r.value, out)[1] for r, out in zip(replies, outs_ref)]


def out_and_cache(forward: str, value: Any, out_ref: Any) -> tuple:
    """A forward pass's reply as (out, cache handle), its ``out`` shaped as ``out_ref``."""
    got = conform_outputs(value, (out_ref, None), ("out", CACHE), forward)
    if not isinstance(got[1], Handle):
        raise fail(Outcome.BAD_OUTPUT, f"{forward} did not return (out, cache)")
    return got[0], got[1]

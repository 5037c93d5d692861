"""Check kinds of topic ``cnn_architectures`` that the shared ones do not cover.

- ``Exact``: a reference comparison for answers that are counts and shapes (nested tuples and
  dicts of ints; lists read as tuples): the structure is checked at every depth (a tuple of the
  wrong length or a string where an int is due is ``bad_output``, never a grader fault), values
  compare with a relative error of 1e-12 (exact for integers below 1e11; the first differing
  count is written out in full). ``repeat`` draws that many inputs from the check's generator
  with ``make`` (and with each of ``more``) and sends them in one batch; the first wrong answer
  is judged.
- ``Unchanged``: no argument is modified, dicts and lists included (``NoMutation`` watches only
  array arguments; here the layer dicts and the params dict are what a student mutates).
- ``BlockGradient``: ``residual_block_backward`` against the numeric gradient of
  ``sum(out * dout)`` of the student's own ``residual_block_forward``, for x and for every
  entry of the params dict.
"""

from __future__ import annotations

import copy
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

import numpy as np

from grader.checks.anchor import gate, record
from grader.checks.base import PASS, Context, Declared, Kind, Make, Outcome, Verdict, fail
from grader.checks.diagnose import Observation, diagnose, judge_outputs
from grader.checks.gradient import (
    GradientPair,
    forward_verdict,
    gradient_verdict,
    layer_forward_seen,
    numeric_gradient,
    with_forward,
)
from grader.checks.hygiene import _same
from grader.checks.outputs import conform, conform_outputs, describe_call
from grader.checks.reference import BackwardRun, backward_pass, param_names
from grader.judge.student import Call


def _layer_text(layer: Any) -> str:
    if not isinstance(layer, dict):
        return repr(layer)[:40]
    kind = layer.get("type")
    if kind == "conv":
        return (
            f"conv({layer.get('out_channels')}, k{layer.get('kernel')}, s{layer.get('stride', 1)}"
            f", p{layer.get('pad', 0)}{'' if layer.get('bias', True) else ', no bias'})"
        )
    if kind == "pool":
        k = layer.get("kernel")
        ceil = ", ceil" if layer.get("ceil_mode") else ""
        return f"pool(k{k}, s{layer.get('stride', k)}, p{layer.get('pad', 0)}{ceil})"
    if kind == "fc":
        return f"fc({layer.get('out_features')}{'' if layer.get('bias', True) else ', no bias'})"
    if kind == "basic_block":
        return f"basic({layer.get('out_channels')}, s{layer.get('stride', 1)})"
    if kind == "bottleneck_block":
        return (
            f"bottleneck({layer.get('mid_channels')}->{layer.get('out_channels')}, "
            f"s{layer.get('stride', 1)})"
        )
    return str(kind)


def describe_layers(layers: list[Any]) -> str:
    """``[conv(6, k5, s1, p0), relu, pool(k2, s2, p0), ... (11 layers)]``."""
    texts = [_layer_text(layer) for layer in layers]
    if len(texts) > 8:
        texts = [*texts[:5], "...", *texts[-2:]]
    return f"[{', '.join(texts)}] ({len(layers)} layers)"


def describe(function: str, names: list[str], args: tuple) -> str:
    """Like ``describe_call``, with layer lists written short."""
    parts = []
    for name, value in zip(names, args):
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            parts.append(f"{name}={describe_layers(value)}")
        else:
            parts.append(describe_call("", [name], (value,))[1:-1])
    return f"{function}({', '.join(parts)})"


def conform_deep(got: Any, expected: Any, name: str) -> None:
    """``conform`` at every depth of nested tuples and dicts (``bad_output`` at the first
    difference)."""
    if isinstance(expected, tuple):
        conform(got, expected, name)
        for i, (g, e) in enumerate(zip(got, expected)):
            conform_deep(g, e, f"{name}[{i}]")
    elif isinstance(expected, dict):
        if not isinstance(got, dict):
            conform(got, expected, name)
        missing = sorted(set(expected) - set(got))
        if missing:
            raise fail(Outcome.BAD_OUTPUT, f"{name}: dict is missing keys {missing}")
        for key in expected:
            conform_deep(got[key], expected[key], f"{name}[{key!r}]")
    else:
        conform(got, expected, name)


def expected_outputs(ctx: Context, function: str, args: tuple, outputs: tuple[str, ...]) -> tuple:
    """The reference's outputs as a tuple, one item per output name (a function with one output
    may return a tuple: a shape is one output, not several)."""
    value = getattr(ctx.ref, function)(*copy.deepcopy(args))
    return (value,) if len(outputs) == 1 else tuple(value)


def _lists_as_tuples(value: Any) -> Any:
    """A shape or a list of counts returned as a list reads as the tuple the docstring asks."""
    if isinstance(value, (list, tuple)):
        return tuple(_lists_as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _lists_as_tuples(v) for k, v in value.items()}
    return value


def student_answers(
    ctx: Context, function: str, draws: list[tuple], outputs: tuple[str, ...]
) -> list[tuple[tuple, tuple]]:
    """(the student's outputs, structure checked at every depth; the reference's) per draw,
    the student's calls sent in one batch."""
    replies = ctx.student.batch([Call(function, args) for args in draws])
    found = []
    for args, reply in zip(draws, replies):
        expected = expected_outputs(ctx, function, args, outputs)
        value = reply.value
        if len(outputs) > 1 and isinstance(value, tuple):
            value = tuple(_lists_as_tuples(v) for v in value)
        else:
            value = _lists_as_tuples(value)
        got = conform_outputs(value, expected, outputs, function)
        for name, g, e in zip(outputs, got, expected):
            conform_deep(g, e, f"{function} -> {name}")
        found.append((got, expected))
    return found


def _identical(got: Any, expected: Any) -> bool:
    """Equal ints (and equal floats) all the way down, structure included."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(_identical(got[k], expected[k]) for k in expected)
    if isinstance(expected, tuple):
        return len(got) == len(expected) and all(map(_identical, got, expected))
    return type(expected) in (int, float) and got == expected


def first_difference(got: Any, expected: Any, name: str) -> tuple[str, Any, Any] | None:
    """The first leaf (in the order the comparison walks) where ``got`` differs, as (path,
    yours, expected); None when they are equal."""
    if isinstance(expected, dict):
        pairs = [(f"{name}[{k!r}]", got[k], expected[k]) for k in expected]
    elif isinstance(expected, tuple):
        pairs = [(f"{name}[{i}]", g, e) for i, (g, e) in enumerate(zip(got, expected))]
    else:
        return None if got == expected else (name, got, expected)
    for path, g, e in pairs:
        found = first_difference(g, e, path)
        if found:
            return found
    return None


def _with_exact_values(verdict: Verdict, got: tuple, expected: tuple, names: tuple) -> Verdict:
    """The verdict with the first differing value written in full (counts in the hundreds of
    millions differ in digits that the comparison's 6 significant digits do not show)."""
    for name, g, e in zip(names, got, expected):
        found = first_difference(g, e, name)
        if found and all(isinstance(v, (int, np.integer)) for v in found[1:]):
            path, mine, want = found
            lines = verdict.message.split("\n")
            lines.insert(2, f"  exactly: {path}: yours {int(mine):,}, expected {int(want):,}")
            return replace(verdict, message="\n".join(lines))
        if found:
            break
    return verdict


@dataclass(frozen=True)
class Exact(Declared):
    """``function(*make(rng))`` against the reference, ``repeat`` draws in one batch."""

    topic: str
    function: str
    case: str
    make: Make
    outputs: tuple[str, ...]
    _: KW_ONLY
    more: tuple[Make, ...] = ()  # further makers, each drawn ``repeat`` times too
    repeat: int = 1
    tol: float = 1e-12
    hidden: bool = False
    degenerate: bool = False  # an answer a trivial function gives: gated (checks.anchor)
    kind: Kind = Kind.REFERENCE

    @property
    def anchor_ok(self) -> bool:
        return not self.degenerate

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, record(ctx, self, self.evaluate(ctx)))

    def evaluate(self, ctx: Context) -> Verdict:
        draws = [make(ctx.rng) for make in (self.make, *self.more) for _ in range(self.repeat)]
        names = param_names(ctx, self.function)
        answers = student_answers(ctx, self.function, draws, self.outputs)
        wrong = []
        for args, (got, expected) in zip(draws, answers):
            if _identical(got, expected):  # counts and shapes: the common case, no arrays needed
                continue
            text = describe(self.function, names, args)
            seen = Observation(self.function, text, args, got, self.outputs, expected)
            verdict = judge_outputs(ctx, seen, self.tol, "the reference")
            if not verdict.passed:
                wrong.append((seen, verdict))
        if not wrong:
            return PASS
        seen, verdict = wrong[0]
        # a small integer matches some mistake's model by chance: a mistake is named only when
        # it explains every wrong draw of the check
        if verdict.misconception and any(
            (m := diagnose(ctx, other, self.tol)) is None or m.name != verdict.misconception
            for other, _ in wrong[1:]
        ):
            kept = [
                line for line in verdict.message.split("\n") if "looks like a known" not in line
            ]
            verdict = replace(verdict, message="\n".join(kept), misconception=None)
        got, expected = seen.got, seen.expected
        return _with_exact_values(verdict, got, expected, self.outputs)


@dataclass(frozen=True)
class Repeatable(Declared):
    """Two calls with the same arguments give the same answer (``Deterministic`` for functions
    whose one output may be a tuple)."""

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
        (first, _), (second, _) = student_answers(ctx, self.function, [args, args], self.outputs)
        if _same(first, second):
            return PASS
        return Verdict(
            Outcome.WRONG,
            f"{describe(self.function, param_names(ctx, self.function), args)} returned "
            "different values for the same arguments (global state? a result accumulated "
            "across calls? a layer dict changed by the first call?)",
        )


@dataclass(frozen=True)
class Unchanged(Declared):
    """The student's function leaves every argument as it was (arrays, dicts, lists)."""

    topic: str
    function: str
    case: str
    make: Make
    _: KW_ONLY
    keep: tuple[int, ...] = ()
    hidden: bool = False
    kind: Kind = Kind.HYGIENE

    def run(self, ctx: Context) -> Verdict:
        return gate(ctx, self, self.evaluate(ctx))

    def evaluate(self, ctx: Context) -> Verdict:
        args = self.make(ctx.rng)
        before = copy.deepcopy(args)
        positions = list(range(len(args)))
        reply = ctx.student.call(Call(self.function, args, keep=list(self.keep), echo=positions))
        names = param_names(ctx, self.function)
        changed = [
            names[i] for i, after in zip(positions, reply.echo) if not _same(before[i], after)
        ]
        if not changed:
            return PASS
        text = (
            f"{describe(self.function, names, args)} modified its argument(s) "
            f"{', '.join(changed)}; read the layer dicts with layer.get(key, default) instead of "
            "filling in defaults, and work on copies of arrays."
        )
        if ctx.mutation_policy == "fail":
            return Verdict(Outcome.WRONG, text)
        return Verdict(Outcome.PASSED, "warning: " + text, warnings=(text,))


FORWARD, BACKWARD = "residual_block_forward", "residual_block_backward"
BLOCK_GRADS = ("dx", "grads")


@dataclass(frozen=True)
class BlockGradient(Declared):
    """dx and every entry of grads against centered differences of the student's own forward
    (elementwise, or along ``directions`` random directions)."""

    topic: str
    case: str
    make: Make
    _: KW_ONLY
    mode: str = "elementwise"
    directions: int = 2
    tol: float = 1e-6
    hidden: bool = False
    function: str = BACKWARD
    kind: Kind = Kind.GRADIENT

    def run(self, ctx: Context) -> Verdict:
        run = backward_pass(ctx, FORWARD, BACKWARD, self.make(ctx.rng), BLOCK_GRADS)
        forward = forward_verdict(ctx, layer_forward_seen(ctx, FORWARD, run))
        return with_forward(forward, self._gradients(ctx, run), f"your {FORWARD}", ctx, BACKWARD)

    def _gradients(self, ctx: Context, run: BackwardRun) -> Verdict:
        x, params, block_param = run.args
        dx, grads = run.seen.got
        targets = [("dx", x, dx, lambda p: (p, params, block_param))]
        for key in params:
            targets.append(
                (
                    f"grads[{key!r}]",
                    params[key],
                    grads[key],
                    lambda p, key=key: (x, {**params, key: p}, block_param),
                )
            )
        for name, value, analytic, place in targets:

            def evaluate(points: list[np.ndarray], place: Any = place) -> list[float]:
                calls = [Call(FORWARD, place(p), pick=0) for p in points]
                return [self._objective(r.value, run.dout) for r in ctx.student.batch(calls)]

            numeric, dirs = numeric_gradient(ctx, value, evaluate, self.mode, self.directions)
            verdict = gradient_verdict(
                ctx,
                run.seen,
                GradientPair(name, analytic, numeric, dirs),
                self.tol,
                f"the numeric gradient of your own {FORWARD}",
                advice="your backward pass disagrees with your own forward pass: go back through "
                "the final ReLU, the sum (both paths get its gradient), each BN and each conv, "
                "in reverse order.",
            )
            if not verdict.passed:
                return verdict
        return PASS

    @staticmethod
    def _objective(value: Any, dout: np.ndarray) -> float:
        if not (isinstance(value, np.ndarray) and value.shape == dout.shape):
            raise fail(Outcome.BAD_OUTPUT, f"{FORWARD} returned a wrong out for perturbed inputs")
        return float(np.sum(value * dout))

"""Comparing whole results, and naming the known mistake a wrong result matches."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.base import PASS, Context, Misconception, Outcome, Verdict
from grader.checks.outputs import CACHE, is_real_scalar
from grader.judge.compare import Comparison, exact, relative_error, whole_number
from grader.protocol.values import RngSeed

Metric = Callable[[str, np.ndarray, np.ndarray, float], Comparison]
REAL = "biuf"  # numpy dtype kinds of real numbers: bool, int, unsigned, float


def compare_tree(
    name: str, got: Any, expected: Any, tol: float, metric: Metric = relative_error
) -> Iterator[Comparison]:
    """Comparisons of every array or scalar inside ``expected`` (tuples and dicts walked)."""
    if isinstance(expected, dict):
        for key in expected:
            yield from compare_tree(f"{name}[{key!r}]", got[key], expected[key], tol, metric)
    elif isinstance(expected, (tuple, list)):
        for i, (g, e) in enumerate(zip(got, expected)):
            yield from compare_tree(f"{name}[{i}]", g, e, tol, metric)
    elif isinstance(expected, (bool, np.bool_, str)):
        yield exact(name, got, expected)
    elif isinstance(expected, np.ndarray) or is_real_scalar(expected):
        yield metric(name, np.asarray(got), np.asarray(expected), tol)


def compare_outputs(
    names: Sequence[str],
    got: Sequence[Any],
    expected: Sequence[Any],
    tol: float,
    metric: Metric = relative_error,
) -> list[Comparison]:
    found = []
    for name, g, e in zip(names, got, expected):
        if name != CACHE:
            found.extend(compare_tree(name, g, e, tol, metric))
    return found


def _same_or_both_nonfinite(name: str, got: np.ndarray, want: np.ndarray, tol: float):
    """Relative error where NaN and inf count as one value: an overflowing mistake (inf) and its
    model (NaN) are the same mistake."""
    if got.ndim == 0 and want.ndim == 0 and got.dtype.kind in REAL and want.dtype.kind in REAL:
        g, w = float(got), float(want)  # one number each: no arrays (the same arithmetic)
        both = not math.isfinite(g) and not math.isfinite(w)
        return relative_error(name, 0.0 if both else g, 0.0 if both else w, tol)
    both = ~np.isfinite(got) & ~np.isfinite(want)
    return relative_error(name, np.where(both, 0.0, got), np.where(both, 0.0, want), tol)


def _matches(
    got: Sequence[Any],
    variant_out: Any,
    names: Sequence[str],
    tol: float,
    only: tuple[str, ...] | None,
) -> bool:
    variant = variant_out if isinstance(variant_out, tuple) else (variant_out,)
    if len(variant) != len(got):
        return False
    keep = [i for i, n in enumerate(names) if only is None or n in only]
    try:
        comparisons = compare_outputs(
            [names[i] for i in keep],
            [got[i] for i in keep],
            [variant[i] for i in keep],
            tol,
            _same_or_both_nonfinite,
        )
    except (TypeError, ValueError, KeyError, IndexError):
        return False
    return bool(comparisons) and all(c.ok for c in comparisons)


def reference_inputs(values: Any) -> Any:
    """A deep copy of ``values`` as judge-side code (the reference, a mistake's model) takes
    them: each ``RngSeed`` becomes ``numpy.random.default_rng(seed)``, the generator the worker
    makes of it for the student's call, so both sides draw the same numbers. Without a seed
    inside, this is ``copy.deepcopy``."""
    return _with_generators(copy.deepcopy(values))


def _with_generators(value: Any) -> Any:
    """``value`` with its seeds turned into generators; containers without one unchanged."""
    if isinstance(value, RngSeed):
        return np.random.default_rng(value.seed)
    if type(value) in (tuple, list):
        items = [_with_generators(v) for v in value]
        same = all(a is b for a, b in zip(items, value))
        return value if same else type(value)(items)
    if type(value) is dict:
        items = {k: _with_generators(v) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else items
    return value


@dataclass(frozen=True)
class Observation:
    """One call of a student function, as the judge saw it, and what it should have returned.

    ``inputs`` are the call's arguments (``(dout, *forward_args)`` for a backward pass, the
    arguments a known mistake's model takes); ``got`` the student's outputs, structure already
    checked; ``expected`` the reference's (None where no single expected value exists);
    ``names`` the output names (``CACHE`` for a position that stays in the worker).
    """

    function: str
    call: str  # "affine_backward(dout (4, 3), cache) after affine_forward(x (4, 5), ...)"
    inputs: Sequence[Any]
    got: Sequence[Any]
    names: Sequence[str]
    expected: Sequence[Any] | None = None


def diagnose(ctx: Context, seen: Observation, tol: float) -> Misconception | None:
    """The first known mistake for ``seen.function`` whose output matches ``seen.got``.

    A mistake that gives the right answer on these inputs (its model matches ``expected``) says
    nothing here and is skipped.
    """
    tol = max(tol, 1e-6)
    for m in ctx.misconceptions:
        if m.function != seen.function:
            continue
        with np.errstate(all="ignore"):
            try:
                out = m.variant(ctx.ref, *reference_inputs(list(seen.inputs)))
            except Exception:  # a variant that cannot apply to these inputs does not match
                continue
        if seen.expected is not None and _matches(seen.expected, out, seen.names, tol, m.compare):
            continue
        if _matches(seen.got, out, seen.names, tol, m.compare):
            return m
    return None


def judge_outputs(ctx: Context, seen: Observation, tol: float, against: str) -> Verdict:
    """PASS when every output in ``seen.names`` matches ``seen.expected``; else the mismatch
    verdict (``against`` names what was compared with: "the reference backward")."""
    if observe := getattr(type(ctx.ref), "observe", None):  # grader release: fingerprints
        observe(ctx.ref, ctx, seen)
    comparisons = compare_outputs(seen.names, seen.got, seen.expected, tol)
    if all(c.ok for c in comparisons):
        return PASS
    return mismatch_verdict(ctx, seen, comparisons, tol, against)


def ratio_note(comparison: Comparison) -> str | None:
    """The line that says a failed output is an exact multiple of the expected one, if it is."""
    c = comparison.ratio
    if c is None:
        return None
    k = whole_number(c)
    if k == -1:
        return "  yours is exactly the negative of the expected value (a sign error?)"
    if k is not None:
        guess = "a sum instead of a mean? " if k > 1 else ""
        return (
            f"  yours is exactly {k} times the expected value ({guess}a missing or extra factor?)"
        )
    k = whole_number(1 / c)
    if k is not None:
        guess = "a mean instead of a sum? " if k > 1 else ""
        part = f"1/{k}" if k > 0 else f"-1/{-k}"
        return (
            f"  yours is exactly {part} of the expected value ({guess}a missing or extra factor?)"
        )
    return f"  yours is exactly {c:.6g} times the expected value (a missing or extra factor?)"


def mismatch_verdict(
    ctx: Context, seen: Observation, comparisons: Sequence[Comparison], tol: float, against: str
) -> Verdict:
    """A ``wrong`` verdict: the first bad output, where it is worst, and the likely mistake."""
    bad = [c for c in comparisons if not c.ok]
    first = bad[0]
    lines = [f"{seen.call}: {first.name} differs from {against}.", "  " + first.describe()]
    numeric = not isinstance(first.expected_value, (str, bool))  # words compare by equality
    nonfinite = numeric and not np.isfinite(first.got_value) and np.isfinite(first.expected_value)
    if nonfinite:
        lines.append(
            "  your output has NaN/inf where the expected value is finite "
            "(numerical overflow? divide by zero?)"
        )
    ratio = ratio_note(first)
    if ratio:
        lines.append(ratio)
    if len(bad) > 1:
        lines.append("  also off: " + ", ".join(c.name for c in bad[1:4]))
    mistake = diagnose(ctx, seen, tol)
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)

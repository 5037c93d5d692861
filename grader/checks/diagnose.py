"""Comparing whole results, and naming the known mistake a wrong result matches."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from grader.checks.base import Context, Misconception, Outcome, Verdict
from grader.checks.outputs import CACHE, is_real_scalar
from grader.judge.compare import Comparison, relative_error

Metric = Callable[[str, np.ndarray, np.ndarray, float], Comparison]


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


def _matches(got: Sequence[Any], variant_out: Any, names: Sequence[str], tol: float) -> bool:
    variant = variant_out if isinstance(variant_out, tuple) else (variant_out,)
    if len(variant) != len(got):
        return False
    try:
        comparisons = compare_outputs(names, got, variant, tol)
    except (TypeError, ValueError, KeyError, IndexError):
        return False
    return bool(comparisons) and all(c.ok for c in comparisons)


def diagnose(
    ctx: Context,
    function: str,
    inputs: Sequence[Any],
    got: Sequence[Any],
    names: Sequence[str],
    tol: float,
) -> Misconception | None:
    """The first known mistake for ``function`` whose output matches ``got``."""
    for m in ctx.misconceptions:
        if m.function != function:
            continue
        with np.errstate(all="ignore"):
            try:
                out = m.variant(ctx.ref, *copy.deepcopy(list(inputs)))
            except Exception:  # a variant that cannot apply to these inputs does not match
                continue
        if _matches(got, out, names, max(tol, 1e-6)):
            return m
    return None


def mismatch_verdict(
    ctx: Context,
    call_text: str,
    function: str,
    inputs: Sequence[Any],
    got: Sequence[Any],
    names: Sequence[str],
    comparisons: list[Comparison],
    tol: float,
    what: str,
) -> Verdict:
    """A ``wrong`` verdict naming the first bad output, where it is worst, and the likely mistake."""
    bad = [c for c in comparisons if not c.ok]
    first = bad[0]
    lines = [f"{call_text}: {first.name} differs from {what}.", "  " + first.describe()]
    nonfinite = not np.isfinite(first.got_value) and np.isfinite(first.expected_value)
    if nonfinite:
        lines.append(
            "  your output has NaN/inf where the expected value is finite "
            "(numerical overflow? divide by zero?)"
        )
    if len(bad) > 1:
        lines.append("  also off: " + ", ".join(c.name for c in bad[1:4]))
    mistake = diagnose(ctx, function, inputs, got, names, tol)
    if mistake:
        lines.append(f"  looks like a known mistake: {mistake.name}. Hint: {mistake.hint}")
    return Verdict(Outcome.WRONG, "\n".join(lines), misconception=mistake.name if mistake else None)

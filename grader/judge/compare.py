"""Comparisons the judge makes: CS231n relative error with the place of the worst error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing ``got`` with ``expected``."""

    name: str
    error: float
    tolerance: float
    worst_index: tuple[int, ...]
    got_value: float | str | bool
    expected_value: float | str | bool
    metric: str
    ratio: float | None = None  # a failed comparison where got == ratio * expected exactly

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tolerance)

    def where(self) -> str:
        got, want = _show(self.got_value), _show(self.expected_value)
        if not self.worst_index:
            return f"{self.name}: yours {got}, expected {want}"
        idx = ", ".join(str(i) for i in self.worst_index)
        return f"worst at {self.name}[{idx}]: yours {got}, expected {want}"

    def describe(self) -> str:
        return (
            f"compared {self.name} by {self.metric}: error {self.error:.3g} "
            f"(tolerance {self.tolerance:.0e}); {self.where()}"
        )


def _show(value: float | str | bool) -> str:
    if isinstance(value, (str, bool)):
        return repr(value)
    return f"{value:.6g}"


def exact(name: str, got: str | bool, expected: str | bool) -> Comparison:
    """Equality, for answers that are words or truth values (``"memory"``, ``True``)."""
    same = type(got) is type(expected) and got == expected
    if isinstance(expected, (bool, np.bool_)):
        same = isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected)
        got, expected = bool(got), bool(expected)
    return Comparison(name, 0.0 if same else float("inf"), 0.0, (), got, expected, "equality")


RATIO_SPREAD = 1e-9  # how far the elementwise ratios may differ, relative to their value


def whole_number(value: float) -> int | None:
    """``value`` as an integer when it is one (to within ``RATIO_SPREAD``), else None (also
    for inf and NaN: ``1 / c`` of a ratio 0 is inf)."""
    if not math.isfinite(value):
        return None
    k = round(value)
    return k if k and abs(value - k) <= RATIO_SPREAD * abs(value) else None


def exact_ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    """``c`` when ``got == c * expected`` elementwise (ratios within ``RATIO_SPREAD`` of each
    other; elements that are 0 on both sides agree with any c), with c finite, not 0 and not 1;
    else None. A single value always has some ratio to another, so for one value only a whole
    number or its reciprocal counts (a sum instead of a mean, a factor 2 missing)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return None
    if got.ndim == 0:
        return _scalar_ratio(float(got), float(expected))
    both_zero = (got == 0) & (expected == 0)
    g, e = got[~both_zero], expected[~both_zero]
    if g.size == 0 or not (np.all(np.isfinite(g)) and np.all(np.isfinite(e)) and np.all(e != 0)):
        return None
    with np.errstate(all="ignore"):
        ratios = g / e
    c = float(np.median(ratios))
    if not np.isfinite(c) or c == 0 or abs(c - 1) <= RATIO_SPREAD:
        return None
    if float(np.max(np.abs(ratios - c))) > RATIO_SPREAD * abs(c):
        return None
    if g.size == 1 and whole_number(c) is None and whole_number(1 / c) is None:
        return None
    return c


def _scalar_ratio(g: float, e: float) -> float | None:
    """``exact_ratio`` of two numbers, without arrays (the same arithmetic)."""
    if g == 0 and e == 0 or not (math.isfinite(g) and math.isfinite(e) and e != 0):
        return None
    c = g / e
    if not math.isfinite(c) or c == 0 or abs(c - 1) <= RATIO_SPREAD:
        return None
    if whole_number(c) is None and whole_number(1 / c) is None:
        return None
    return c


def _metric(floor: float) -> str:
    return f"relative error max|a-b|/max({floor:g},|a|+|b|)"


def relative_error(
    name: str,
    got: np.ndarray,
    expected: np.ndarray,
    tolerance: float,
    floor: float = 1e-8,
    slack: float = 0.0,
) -> Comparison:
    """CS231n's ``max |a-b| / max(floor, |a|+|b|)``, elementwise, with the worst element's index.

    ``slack`` is an absolute difference that counts as none (the roundoff of a numeric gradient).
    NaN on either side, or an infinity where the other side differs, counts as an infinite
    error. Shapes must already agree (the caller checks them first and reports a shape mismatch
    on its own).
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.ndim == 0 and expected.ndim == 0:
        return _scalar_relative_error(name, float(got), float(expected), tolerance, floor, slack)
    with np.errstate(all="ignore"):
        diff = np.maximum(np.abs(got - expected) - slack, 0.0)
        err = diff / np.maximum(floor, np.abs(got) + np.abs(expected))
    # NaN never matches anything (a NaN result is never right, even against a NaN numeric
    # gradient of a NaN loss); an infinity matches only the same infinity.
    same_inf = np.isinf(got) & (got == expected)
    err = np.where(same_inf, 0.0, err)
    err = np.where(np.isnan(err), np.inf, err)
    if err.size == 0:
        return Comparison(name, 0.0, tolerance, (), np.nan, np.nan, "relative error")
    flat = int(np.argmax(err))
    idx = np.unravel_index(flat, err.shape) if err.ndim else ()
    error = float(err.flat[flat])
    return Comparison(
        name=name,
        error=error,
        tolerance=tolerance,
        worst_index=tuple(int(i) for i in idx),
        got_value=float(got.flat[flat]),
        expected_value=float(expected.flat[flat]),
        metric=_metric(floor),
        ratio=exact_ratio(got, expected) if error > tolerance else None,
    )


def _scalar_relative_error(
    name: str, g: float, e: float, tolerance: float, floor: float, slack: float
) -> Comparison:
    """``relative_error`` of two numbers: the same arithmetic, step by step, in plain floats
    (a check of a dict of counts compares hundreds of single numbers, each a dozen array
    operations the other way)."""
    if math.isinf(g) and g == e:
        error = 0.0
    else:
        diff = abs(g - e) - slack  # NaN stays NaN, as through np.maximum
        diff = 0.0 if diff <= 0.0 else diff
        scale = abs(g) + abs(e)
        scale = floor if scale <= floor else scale
        # a floor of 0 and two zeros: numpy's 0 / 0 is NaN, which counts as inf
        error = diff / scale if scale else math.inf
        error = math.inf if math.isnan(error) else error
    return Comparison(
        name=name,
        error=error,
        tolerance=tolerance,
        worst_index=(),
        got_value=g,
        expected_value=e,
        metric=_metric(floor),
        ratio=_scalar_ratio(g, e) if error > tolerance else None,
    )


def gradient_error(
    name: str, got: np.ndarray, expected: np.ndarray, tolerance: float, roundoff: float = 0.0
) -> Comparison:
    """Relative error for gradients: floor at 1e-4 of the larger array's magnitude, and the
    numeric gradient's floating-point roundoff (``roundoff``, absolute) forgiven.

    A numeric gradient carries an absolute error of about eps*|f|/h, so entries that are (nearly)
    zero are judged against the array's scale rather than against 1e-8; large entries are judged
    exactly as by ``relative_error``.
    """
    scale = float(max(np.max(np.abs(got), initial=0.0), np.max(np.abs(expected), initial=0.0)))
    floor = max(1e-8, 1e-4 * scale) if np.isfinite(scale) else 1e-8
    cmp = relative_error(name, got, expected, tolerance, floor=floor, slack=roundoff)
    metric = "relative error max|a-b|/max(1e-4*scale,|a|+|b|)"
    if roundoff:
        metric += f", differences under the numeric roundoff {roundoff:.1g} forgiven"
    return Comparison(**{**cmp.__dict__, "metric": metric})

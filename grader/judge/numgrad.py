"""Numeric gradients by centered differences, in float64, on copies. Nothing prints.

The function being differentiated lives in the worker, so the caller passes ``evaluate``: it
takes a list of perturbed copies of ``x`` and returns the scalar value for each, which lets the
judge send all perturbations in one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Evaluate = Callable[[list[np.ndarray]], Sequence[float]]
ROUNDOFF_FACTOR = 100.0  # allowance over the bare eps*|f|/h of one subtraction


@dataclass(frozen=True)
class Numeric:
    """Numeric derivatives and the absolute roundoff their floating-point differences carry."""

    values: np.ndarray
    roundoff: float


def _roundoff(values: np.ndarray, h: float) -> float:
    top = float(np.max(np.abs(values), initial=0.0))
    return ROUNDOFF_FACTOR * np.finfo(np.float64).eps * top / h if np.isfinite(top) else 0.0


def elementwise(evaluate: Evaluate, x: np.ndarray, h: float = 1e-5) -> Numeric:
    """Full numeric gradient of a scalar function at ``x`` (for small ``x``)."""
    x = np.array(x, dtype=np.float64)
    points = []
    for i in range(x.size):
        for sign in (1.0, -1.0):
            xp = x.copy()
            xp.flat[i] += sign * h
            points.append(xp)
    values = np.asarray(evaluate(points), dtype=np.float64)
    grad = ((values[0::2] - values[1::2]) / (2 * h)).reshape(x.shape)
    return Numeric(grad, _roundoff(values, h))


def directional(
    evaluate: Evaluate, x: np.ndarray, directions: np.ndarray, h: float = 1e-5
) -> Numeric:
    """Numeric directional derivatives along each row of ``directions`` (shape (k, *x.shape))."""
    x = np.array(x, dtype=np.float64)
    points = []
    for v in directions:
        points += [x + h * v, x - h * v]
    values = np.asarray(evaluate(points), dtype=np.float64)
    return Numeric((values[0::2] - values[1::2]) / (2 * h), _roundoff(values, h))


def random_directions(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    v = rng.standard_normal((k, *shape))
    norms = np.sqrt((v.reshape(k, -1) ** 2).sum(axis=1)).reshape((k,) + (1,) * len(shape))
    return v / norms

"""Numeric gradients by centered differences, in float64, on copies. Nothing prints.

The function being differentiated lives in the worker, so the caller passes ``evaluate``: it
takes a list of perturbed copies of ``x`` and returns the scalar value for each, which lets the
judge send all perturbations in one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Evaluate = Callable[[list[np.ndarray]], Sequence[float]]


def elementwise(evaluate: Evaluate, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Full numeric gradient of a scalar function at ``x`` (for small ``x``)."""
    x = np.array(x, dtype=np.float64)
    points = []
    for i in range(x.size):
        for sign in (1.0, -1.0):
            xp = x.copy()
            xp.flat[i] += sign * h
            points.append(xp)
    values = np.asarray(evaluate(points), dtype=np.float64)
    return ((values[0::2] - values[1::2]) / (2 * h)).reshape(x.shape)


def directional(
    evaluate: Evaluate, x: np.ndarray, directions: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numeric directional derivatives along each row of ``directions`` (shape (k, *x.shape))."""
    x = np.array(x, dtype=np.float64)
    points = []
    for v in directions:
        points += [x + h * v, x - h * v]
    values = np.asarray(evaluate(points), dtype=np.float64)
    return (values[0::2] - values[1::2]) / (2 * h)


def random_directions(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    v = rng.standard_normal((k, *shape))
    norms = np.sqrt((v.reshape(k, -1) ** 2).sum(axis=1)).reshape((k,) + (1,) * len(shape))
    return v / norms

"""Input makers of the ``parallel`` topic: every value is drawn from the check's generator."""

from __future__ import annotations

import numpy as np

from grader.checks.base import Make


def batch(N: int, D: int, K: int, C: int = 0, trailing: tuple[int, ...] = ()) -> Make:
    """(X, y, K), or (W, X, y, K) when ``C``: a batch of N examples of D features, C classes."""

    def make(rng: np.random.Generator) -> tuple:
        X = rng.standard_normal((N, D, *trailing))
        y = rng.integers(0, max(C, 3), N)
        if not C:
            return X, y, K
        W = 0.5 * rng.standard_normal((D, C))
        return W, X, y, K

    return make


def ring(K: int, shapes: tuple[tuple[int, ...], ...] | None = None, m: int = 3) -> Make:
    """(chunks_per_worker,): K workers, each with K chunks (of ``shapes``, or of (m,) each)."""
    sizes = shapes if shapes is not None else tuple((m,) for _ in range(K))

    def make(rng: np.random.Generator) -> tuple:
        return ([[rng.standard_normal(s) for s in sizes] for _ in range(K)],)

    return make


def uneven_ring(K: int) -> Make:
    """Chunks as np.array_split makes them of a flat buffer of 3K + 1 values (sizes 4, 3, ...)."""
    return ring(K, tuple(c.shape for c in np.array_split(np.zeros(3 * K + 1), K)))


def scalars(size_bytes: float, K: int) -> Make:
    def make(rng: np.random.Generator) -> tuple:
        return size_bytes, K

    return make


def two_layer(N: int, D: int, H: int, C: int) -> Make:
    """(x, W1, b1, W2, b2) of the two-layer net."""

    def make(rng: np.random.Generator) -> tuple:
        x = rng.standard_normal((N, D))
        W1 = rng.standard_normal((D, H)) / np.sqrt(D)
        b1 = 0.1 * rng.standard_normal(H)
        W2 = rng.standard_normal((H, C)) / np.sqrt(H)
        b2 = 0.1 * rng.standard_normal(C)
        return x, W1, b1, W2, b2

    return make


def loader(
    load: float | None, compute: float | None, steps: int, prefetch: int, slow: int = -1
) -> Make:
    """(load_ms, compute_ms, steps, prefetch). A None time is drawn per step in [1, 20) ms;
    ``slow`` >= 0 makes the load of that batch 30 ms (with fast loads of 1 ms elsewhere)."""

    def make(rng: np.random.Generator) -> tuple:
        if slow >= 0:
            times = np.ones(steps)
            times[slow] = 30.0
            return times, float(compute or 10.0), steps, prefetch
        lo = float(load) if load is not None else rng.uniform(1.0, 20.0, steps)
        co = float(compute) if compute is not None else rng.uniform(1.0, 20.0, steps)
        return lo, co, steps, prefetch

    return make

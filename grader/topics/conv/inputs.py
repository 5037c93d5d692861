"""Input makers of topic ``conv``: each returns ``make(rng) -> args`` for a check.

Everything is drawn from the check's generator. Max-pool inputs have no ties and no near-ties
(distinct values at least 4/size apart), so that the maximum of every window is unique and a
centered difference of step 1e-5 never changes which position wins; ``pool_ties`` makes ties
on purpose, for the reference comparison of the docstring's tie policy only.
"""

from __future__ import annotations

import numpy as np

from grader.checks.base import Make

Shape = tuple[int, int, int, int]


def conv(x_shape: Shape, w_shape: Shape, stride: int, pad: int) -> Make:
    """x (N, C, H, W) and w (F, C, HH, WW) standard normal, b (F,), conv_param."""
    assert x_shape[1] == w_shape[1], "x and w must have the same number of channels"

    def make(rng: np.random.Generator) -> tuple:
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape)
        b = rng.standard_normal(w_shape[0])
        return x, w, b, {"stride": stride, "pad": pad}

    return make


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random arrangement of evenly spaced values in [-2, 2): all gaps >= 4/size."""
    size = int(np.prod(shape))
    assert size <= 40_000, "keep the gaps far above the numeric-gradient step"
    values = (rng.permutation(size) - size / 2) * (4.0 / size)
    return values.reshape(shape)


def pool(x_shape: Shape, pool_height: int, pool_width: int, stride: int) -> Make:
    """x (N, C, H, W) without ties, and pool_param."""

    def make(rng: np.random.Generator) -> tuple:
        param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
        return distinct_values(rng, x_shape), param

    return make


def pool_ties(x_shape: Shape, pool_height: int, pool_width: int, stride: int) -> Make:
    """x (N, C, H, W) of a few integer values, so that most windows hold tied maxima (the
    docstring gives the gradient to the first, in np.argmax order), and pool_param."""

    def make(rng: np.random.Generator) -> tuple:
        param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
        return rng.integers(0, 3, x_shape).astype(np.float64), param

    return make

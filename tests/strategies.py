"""Hypothesis strategies shared by the test suite: shapes, float64 arrays, labels, batches.

Every strategy draws float64 data. Arrays "away from kinks" keep each element at least
``KINK_MARGIN`` from a point where the function is not differentiable, so that a comparison
against autograd never depends on which subgradient either side picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

KINK_MARGIN = 1e-3

# Small sizes keep each example to microseconds while still covering N = 1, D = 1 and C = 2.
batch_sizes = st.integers(min_value=1, max_value=6)
feature_dims = st.integers(min_value=1, max_value=6)
class_counts = st.integers(min_value=2, max_value=6)


def finite_floats(bound: float = 3.0) -> st.SearchStrategy[float]:
    """Finite float64 values in [-bound, bound], no subnormals."""
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def floats_away_from(
    kink: float = 0.0, bound: float = 3.0, margin: float = KINK_MARGIN
) -> st.SearchStrategy[float]:
    """Float64 values in [kink - bound, kink + bound] with |value - kink| > margin."""
    magnitude = st.floats(margin, bound, exclude_min=True, allow_subnormal=False)
    return st.tuples(st.sampled_from((-1.0, 1.0)), magnitude).map(lambda sm: kink + sm[0] * sm[1])


def float_arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    elements: st.SearchStrategy[float] | None = None,
    **kwargs: object,
) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays of the given shape (or shape strategy); elements default to [-3, 3]."""
    return hnp.arrays(
        np.float64, shape, elements=finite_floats() if elements is None else elements, **kwargs
    )


def arrays_away_from_kinks(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], kink: float = 0.0
) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays whose every element is more than KINK_MARGIN from ``kink``."""
    return float_arrays(shape, elements=floats_away_from(kink))


def small_shapes(min_dims: int = 1, max_dims: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes with 1..5 elements per axis."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=5)


def labels(n: int, num_classes: int) -> st.SearchStrategy[np.ndarray]:
    """int64 labels of shape (n,) in [0, num_classes)."""
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, num_classes - 1))


def regularization_strengths() -> st.SearchStrategy[float]:
    """reg values, 0 included (a missing reg term only shows when reg > 0)."""
    return st.one_of(st.just(0.0), st.floats(1e-3, 10.0))


@dataclass(frozen=True)
class ClassificationBatch:
    """Scores or weights plus data for a loss: W (D, C), X (N, D), y (N,), reg."""

    W: np.ndarray
    X: np.ndarray
    y: np.ndarray
    reg: float


@st.composite
def classification_batches(
    draw: st.DrawFn, hinge_margin: float | None = None
) -> ClassificationBatch:
    """A linear-classifier problem. With ``hinge_margin``, every SVM margin
    s_j - s_{y_i} + 1 (j != y_i) is kept more than ``hinge_margin`` away from 0, so the hinge is
    differentiable there."""
    n, d, c = draw(batch_sizes), draw(feature_dims), draw(class_counts)
    W = draw(float_arrays((d, c)))
    X = draw(float_arrays((n, d)))
    y = draw(labels(n, c))
    if hinge_margin is not None:
        assume(_min_hinge_margin(X @ W, y) > hinge_margin)
    return ClassificationBatch(W=W, X=X, y=y, reg=draw(regularization_strengths()))


@st.composite
def score_batches(
    draw: st.DrawFn, hinge_margin: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores x (N, C) in [-10, 10] and labels y (N,); ``hinge_margin`` as in
    classification_batches."""
    n, c = draw(batch_sizes), draw(class_counts)
    x = draw(float_arrays((n, c), elements=finite_floats(10.0)))
    y = draw(labels(n, c))
    if hinge_margin is not None:
        assume(_min_hinge_margin(x, y) > hinge_margin)
    return x, y


def _min_hinge_margin(scores: np.ndarray, y: np.ndarray) -> float:
    rows = np.arange(scores.shape[0])
    margins = np.abs(scores - scores[rows, y][:, None] + 1.0)
    margins[rows, y] = np.inf
    return float(margins.min())


@st.composite
def maxout_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, D), w (D, M, K), b (M, K) whose K pieces never tie: the two largest pieces of
    every unit differ by more than KINK_MARGIN."""
    n, d = draw(batch_sizes), draw(feature_dims)
    m, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(float_arrays((n, d)))
    w = draw(float_arrays((d, m, k)))
    # Distinct biases break the ties that x = 0 or repeated weights would otherwise create.
    b = draw(float_arrays((m, k), unique=True))
    z = np.einsum("nd,dmk->nmk", x, w) + b
    if k > 1:
        top_two = np.sort(z, axis=2)[:, :, -2:]
        assume(np.min(top_two[:, :, 1] - top_two[:, :, 0]) > KINK_MARGIN)
    return x, w, b


@st.composite
def affine_inputs(
    draw: st.DrawFn, relu_margin: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, d_1, ..., d_k) with 1 <= k <= 3, w (D, M), b (M,). With ``relu_margin``, every
    pre-activation x.reshape(N, D) @ w + b is more than ``relu_margin`` away from 0."""
    n = draw(batch_sizes)
    example_shape = draw(small_shapes(min_dims=1, max_dims=3))
    x = draw(float_arrays((n, *example_shape)))
    d, m = int(np.prod(example_shape)), draw(st.integers(1, 5))
    w = draw(float_arrays((d, m)))
    b = draw(float_arrays((m,), elements=floats_away_from(0.0)))
    if relu_margin is not None:
        assume(np.min(np.abs(x.reshape(n, d) @ w + b)) > relu_margin)
    return x, w, b

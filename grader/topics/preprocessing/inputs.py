"""Topic ``preprocessing``, part one: the input makers (every one draws only from the check's rng).

Features have offsets and scales of their own per column, so that statistics over the wrong
axis, centring forgotten or N - 1 for N all change the result. PCA data has a spectrum with
well-separated eigenvalues (relative gaps of 5 % or more among the components compared) and no
near-tie for the largest entry of a component, so that components are unique under the sign
convention. Augmentation inputs carry an ``RngSeed``: the worker turns it into
``numpy.random.default_rng(seed)`` for the student, the judge into the same for the reference.
"""

from __future__ import annotations

import numpy as np

from grader.checks.base import Make
from grader.protocol.values import RngSeed

CONSTANT = 0.5  # a constant feature's value: its mean is exact, its std exactly 0


def _features(rng: np.random.Generator, shape: tuple[int, ...], shift: float = 0.0) -> np.ndarray:
    """(N, ...) data: every position has its own mean in [-3, 3] and std in [0.5, 3]."""
    loc = rng.uniform(-3.0, 3.0, shape[1:]) + shift
    scale = rng.uniform(0.5, 3.0, shape[1:])
    return loc + scale * rng.standard_normal(shape)


def features(shape: tuple[int, ...], constant: bool = False) -> Make:
    """(X,) for fit_normalizer; with ``constant``, feature 0 is constant."""

    def make(rng: np.random.Generator) -> tuple:
        X = _features(rng, shape)
        if constant:
            X[:, 0] = CONSTANT
        return (X,)

    return make


def normalize_case(
    shape: tuple[int, ...], eps: float | None = 1e-8, per_channel: bool = False
) -> Make:
    """(X, mean, std[, eps]): training statistics of another draw (std (C, 1, 1) with
    ``per_channel``); eps None leaves it to the default."""

    def make(rng: np.random.Generator) -> tuple:
        X = _features(rng, shape)
        stat_shape = (shape[1], 1, 1) if per_channel else shape[1:]
        mean = rng.uniform(-3.0, 3.0, stat_shape)
        std = rng.uniform(0.5, 3.0, stat_shape)
        return (X, mean, std) if eps is None else (X, mean, std, eps)

    return make


def normalize_constant(shape: tuple[int, ...], eps: float = 1e-8) -> Make:
    """(X, mean, std, eps) where X is the training split itself and feature 0 is constant."""

    def make(rng: np.random.Generator) -> tuple:
        X = _features(rng, shape)
        X[:, 0] = CONSTANT
        return X, X.mean(axis=0), X.std(axis=0), eps

    return make


def splits(sizes: tuple[int, int, int], example: tuple[int, ...], constant: bool = False) -> Make:
    """(X_train, X_val, X_test, eps): the validation split is shifted and the test split scaled
    against the training split, so that the statistics of any other split differ."""

    def make(rng: np.random.Generator) -> tuple:
        train = _features(rng, (sizes[0], *example))
        mean, std = train.mean(axis=0), train.std(axis=0)
        val = mean + 1.0 + 1.5 * std * rng.standard_normal((sizes[1], *example))
        test = mean - 0.5 + 0.6 * std * rng.standard_normal((sizes[2], *example))
        if constant:
            for split in (train, val, test):
                split[:, 0] = CONSTANT
        return train, val, test, 1e-8

    return make


def images(shape: tuple[int, int, int, int]) -> Make:
    """(X,) images (N, C, H, W), each channel with its own mean and std."""

    def make(rng: np.random.Generator) -> tuple:
        N, C, H, W = shape
        loc = rng.uniform(-2.0, 2.0, (1, C, 1, 1))
        scale = rng.uniform(0.5, 2.0, (1, C, 1, 1))
        # pixels differ in spread too, so averaged per-pixel stds differ from pooled ones
        pixel = rng.uniform(0.5, 1.5, (1, 1, H, W))
        return (loc + scale * pixel * rng.standard_normal(shape),)

    return make


# -- PCA -----------------------------------------------------------------------------------------
def _separated(values: np.ndarray, count: int) -> bool:
    """The ``count`` largest eigenvalues (and the next one) differ by 5 % or more."""
    top = np.sort(values)[::-1][: count + 1]
    top = np.maximum(top, 0.0)
    return bool(np.all(top[:-1] - top[1:] > 0.05 * top[:-1]))


def _no_sign_tie(X: np.ndarray, count: int) -> bool:
    """Each of the top ``count`` eigenvectors has one clearly largest |entry|."""
    Xc = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(Xc.T @ Xc / X.shape[0])
    top = np.abs(vectors[:, np.argsort(values)[::-1][:count]])
    if top.shape[0] == 1:
        return True
    two = np.sort(top, axis=0)[-2:]
    return bool(np.all(two[1] - two[0] > 1e-3))


def spectral_data(rng: np.random.Generator, N: int, D: int, count: int) -> np.ndarray:
    """(N, D) data with mean in [-5, 5] per feature and variances 9 * 0.5^i along a random
    rotation; redrawn until the top ``count`` eigenvalues are separated and unambiguous."""
    for _ in range(1000):
        Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        scales = 3.0 * 0.5 ** (np.arange(D) / 2.0)
        X = (rng.standard_normal((N, D)) * scales) @ Q.T + rng.uniform(-5.0, 5.0, D)
        Xc = X - X.mean(axis=0)
        uncentred = X.T @ X / N
        if (
            _separated(np.linalg.eigvalsh(Xc.T @ Xc / N), count)
            and _separated(np.linalg.eigvalsh(uncentred), count)
            and _no_sign_tie(X, count)
        ):
            return X
    raise RuntimeError("could not draw PCA data with separated eigenvalues")


def pca_case(N: int, D: int, k: int) -> Make:
    """(X, k) for pca_fit."""

    def make(rng: np.random.Generator) -> tuple:
        return spectral_data(rng, N, D, min(k, N - 1)), k

    return make


def whiten_case(N: int, D: int, eps: float = 1e-5) -> Make:
    """(X, eps) for the whitening functions (full rank unless N <= D)."""

    def make(rng: np.random.Generator) -> tuple:
        return spectral_data(rng, N, D, min(D, N - 1)), eps

    return make


def rank_deficient(N: int, D: int, eps: float = 1e-5) -> Make:
    """(X, eps) with N <= D: D - N + 1 directions of zero variance (ZCA only: it does not depend
    on the basis chosen in the null space)."""

    def make(rng: np.random.Generator) -> tuple:
        return spectral_data(rng, N, D, N - 1), eps

    return make


def projection(N: int, D: int, k: int) -> Make:
    """(X, components, mean): orthonormal columns (D, k) and a mean (D,)."""

    def make(rng: np.random.Generator) -> tuple:
        Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        mean = rng.uniform(-3.0, 3.0, D)
        X = mean + rng.standard_normal((N, D)) * 2.0
        return X, Q[:, :k], mean

    return make


# -- augmentation --------------------------------------------------------------------------------
def seed(rng: np.random.Generator) -> RngSeed:
    return RngSeed(int(rng.integers(2**31)))


def flip_case(shape: tuple[int, int, int, int], p: float) -> Make:
    """(X, rng, p): distinct pixel values, so any flip shows."""

    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal(shape), seed(rng), p

    return make


def crop_case(shape: tuple[int, int, int, int], size: tuple[int, int], pad: int) -> Make:
    """(X, rng, size, pad): values away from 0, so the zero padding shows."""

    def make(rng: np.random.Generator) -> tuple:
        X = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        return X, seed(rng), size, pad

    return make


def jitter_case(
    shape: tuple[int, int, int, int],
    brightness: float,
    color: float,
    low: float = 0.05,
    high: float = 0.95,
) -> Make:
    """(X, rng, brightness, color): images in [low, high] (bright ones clip when low is high;
    none clips when high * (1 + brightness) * (1 + color) < 1)."""

    def make(rng: np.random.Generator) -> tuple:
        return rng.uniform(low, high, shape), seed(rng), brightness, color

    return make

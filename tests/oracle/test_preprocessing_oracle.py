"""The reference preprocessing (solutions/preprocessing.py) agrees with independent computations
in PyTorch (float64) and numpy:

- statistics: ``torch.mean`` / ``torch.std(correction=0)``; per-channel normalisation against
  ``F.batch_norm`` in training mode (which normalises with the biased batch variance);
- PCA: ``torch.cov(correction=0)`` and ``torch.linalg.eigh``, ``np.linalg.svd`` of the centred
  data (components up to sign; the sign convention is checked on its own) and the randomised
  ``torch.pca_lowrank`` (the same subspace);
- whitening: ``torch.cov`` of the result is diag(S / (S + eps)); ZCA equals Xc @ cov^(-1/2)
  computed by ``torch.linalg.eigh`` with eps;
- augmentation: the draws of ``np.random.default_rng(seed)`` in the documented order, applied
  with ``torch.flip``, ``F.pad`` and ``torch.clamp``.

Shapes, seeds and parameters are drawn by hypothesis.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import load_solution
from hypothesis import given
from hypothesis import strategies as st
from strategies import float_arrays

sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(0, 2**32 - 1)
epsilons = st.sampled_from([1e-8, 1e-5, 1e-2, 0.5])


@pytest.fixture(scope="module")
def pre():
    return load_solution("preprocessing")


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def close(actual: np.ndarray, expected: object, atol: float = 1e-10, what: str = "") -> None:
    expected = expected.numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert np.shape(actual) == expected.shape, f"{what}: {np.shape(actual)} vs {expected.shape}"
    assert np.asarray(actual).dtype == np.float64, what
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=atol, err_msg=what)


@st.composite
def spectral(draw: st.DrawFn, min_n: int = 2) -> np.ndarray:
    """(N, D) data with an offset and well-separated variances 9 * 0.4^i along a rotation,
    the data exactly decorrelated so that the sample spectrum is the designed one (N > D)."""
    d = draw(st.integers(1, 6))
    n = draw(st.integers(max(min_n, d + 1), 40))
    rng = np.random.default_rng(draw(seeds))
    Z = rng.standard_normal((n, d))
    Z -= Z.mean(axis=0)
    Q_z, _ = np.linalg.qr(Z)  # orthonormal columns, each of mean 0 (Z was centred)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = 3.0 * 0.4 ** (np.arange(d) / 2.0) * np.sqrt(n)
    return (Q_z * scales) @ Q.T + rng.uniform(-5.0, 5.0, d)


# -- normalisation -------------------------------------------------------------------------------
@given(X=float_arrays(st.tuples(sizes, sizes, st.integers(1, 3))))
def test_fit_normalizer_is_torch_mean_and_population_std(pre, X):
    mean, std = pre.fit_normalizer(X)
    close(mean, t(X).mean(dim=0), what="mean")
    close(std, t(X).std(dim=0, correction=0), what="std")


@given(
    X=float_arrays(st.tuples(sizes, st.integers(1, 4))),
    data=st.data(),
    eps=epsilons,
)
def test_normalize_and_splits_follow_the_training_statistics(pre, X, data, eps):
    D = X.shape[1]
    val = data.draw(float_arrays(st.tuples(sizes, st.just(D))), label="val")
    test = data.draw(float_arrays(st.tuples(sizes, st.just(D))), label="test")
    mean_t, std_t = t(X).mean(dim=0), t(X).std(dim=0, correction=0)
    train_n, val_n, test_n = pre.normalize_splits(X, val, test, eps)
    for got, split, name in ((train_n, X, "train"), (val_n, val, "val"), (test_n, test, "test")):
        want = (t(split) - mean_t) / (std_t + eps)
        close(got, want, atol=1e-8, what=name)
        close(pre.normalize(split, mean_t.numpy(), std_t.numpy(), eps), want, atol=1e-8)


@given(X=float_arrays(st.tuples(sizes, sizes, st.integers(2, 4), st.integers(2, 4))))
def test_channel_stats_normalise_like_torch_batch_norm(pre, X):
    mean, std = pre.channel_stats(X)
    xt = t(X)
    close(mean, xt.mean(dim=(0, 2, 3)), what="mean")
    close(std, xt.std(dim=(0, 2, 3), correction=0), what="std")
    if np.min(std) > 0.1:  # torch needs eps > 0; 1e-12 under its root is far below atol here
        want = F.batch_norm(xt, None, None, training=True, eps=1e-12)
        got = pre.normalize(X, mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1), 0.0)
        close(got, want, atol=1e-8, what="normalised like F.batch_norm")


# -- PCA -----------------------------------------------------------------------------------------
def _signed(columns: np.ndarray) -> np.ndarray:
    largest = np.argmax(np.abs(columns), axis=0)
    return columns * np.sign(columns[largest, np.arange(columns.shape[1])])


@given(X=spectral(), data=st.data())
def test_pca_fit_matches_torch_eigh_and_numpy_svd(pre, X, data):
    N, D = X.shape
    k = data.draw(st.integers(1, D), label="k")
    components, variance, mean = pre.pca_fit(X, k)
    xt = t(X)
    cov = torch.cov(xt.T, correction=0).reshape(D, D)
    values, vectors = torch.linalg.eigh(cov)
    close(mean, xt.mean(dim=0), what="mean")
    close(variance, values.flip(0)[:k], atol=1e-9, what="explained variance = eigenvalues")
    close(components, _signed(vectors.flip(1)[:, :k].numpy()), atol=1e-8, what="torch eigh")
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    close(components, _signed(Vt[:k].T), atol=1e-8, what="numpy svd of Xc")
    close(variance, s[:k] ** 2 / N, atol=1e-9, what="s^2 / N")
    largest = components[np.argmax(np.abs(components), axis=0), np.arange(k)]
    assert np.all(largest > 0), "sign convention"


@given(X=spectral(min_n=8), data=st.data())
def test_pca_fit_spans_the_subspace_of_torch_pca_lowrank(pre, X, data):
    N, D = X.shape
    k = data.draw(st.integers(1, D), label="k")
    torch.manual_seed(0)
    # q = D: the randomised range finder spans the whole space, so the result is exact
    _, S, V = torch.pca_lowrank(t(X), q=D, center=True, niter=4)
    S, V = S[:k], V[:, :k]
    components, variance, _ = pre.pca_fit(X, k)
    # the same directions up to sign: |<ours_i, theirs_i>| = 1
    overlap = np.abs(np.sum(components * V.numpy(), axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)
    close(variance, S**2 / N, atol=1e-6, what="S^2 / N of pca_lowrank")


@given(X=spectral(), data=st.data())
def test_pca_project_is_torch_matmul_and_reconstructs(pre, X, data):
    D = X.shape[1]
    k = data.draw(st.integers(1, D), label="k")
    components, _, mean = pre.pca_fit(X, k)
    Z = pre.pca_project(X, components, mean)
    close(Z, (t(X) - t(mean)) @ t(components), atol=1e-9, what="(X - mean) @ components")
    full, _, _ = pre.pca_fit(X, D)
    back = pre.pca_project(X, full, mean) @ full.T + mean
    close(back, X, atol=1e-8, what="reconstruction with all components")


@given(X=spectral(), eps=epsilons)
def test_whitened_covariance_is_diagonal_s_over_s_plus_eps(pre, X, eps):
    D = X.shape[1]
    S = torch.linalg.eigvalsh(torch.cov(t(X).T, correction=0).reshape(D, D)).flip(0)
    white = pre.pca_whiten(X, eps)
    cov = torch.cov(t(white).T, correction=0).reshape(D, D)
    close(cov.numpy(), torch.diag(S / (S + eps)), atol=1e-9, what="cov of PCA-whitened data")
    close(white.mean(axis=0), np.zeros(D), atol=1e-9, what="mean of PCA-whitened data")


@given(X=spectral(), eps=epsilons)
def test_zca_is_xc_times_the_inverse_square_root_of_cov(pre, X, eps):
    D = X.shape[1]
    xt = t(X)
    cov = torch.cov(xt.T, correction=0).reshape(D, D)
    values, U = torch.linalg.eigh(cov)
    inverse_root = U @ torch.diag(1.0 / torch.sqrt(values + eps)) @ U.T
    zca = pre.zca_whiten(X, eps)
    close(zca, (xt - xt.mean(dim=0)) @ inverse_root, atol=1e-9, what="Xc @ (cov + eps I)^(-1/2)")
    expected_cov = U @ torch.diag(values / (values + eps)) @ U.T
    close(torch.cov(t(zca).T, correction=0).reshape(D, D).numpy(), expected_cov, atol=1e-9)


# -- augmentation --------------------------------------------------------------------------------
images = float_arrays(st.tuples(sizes, st.integers(1, 3), sizes, sizes))


@given(X=images, seed=seeds, p=st.sampled_from([0.0, 0.3, 0.5, 1.0]))
def test_random_flip_is_torch_flip_of_the_drawn_mask(pre, X, seed, p):
    out = pre.random_flip(X, np.random.default_rng(seed), p)
    flip = torch.from_numpy(np.random.default_rng(seed).random(X.shape[0]) < p)
    xt = t(X)
    want = torch.where(flip[:, None, None, None], torch.flip(xt, dims=[3]), xt)
    close(out, want, atol=0.0, what="flip")
    if p == 1.0:
        twice = pre.random_flip(out, np.random.default_rng(seed + 1), 1.0)
        close(twice, X, atol=0.0, what="flipping twice")


@given(X=images, seed=seeds, pad=st.integers(0, 3), data=st.data())
def test_random_crop_is_a_window_of_torch_pad(pre, X, seed, pad, data):
    N, _, H, W = X.shape
    h = data.draw(st.integers(1, H + 2 * pad), label="h")
    w = data.draw(st.integers(1, W + 2 * pad), label="w")
    out = pre.random_crop(X, np.random.default_rng(seed), (h, w), pad)
    rng = np.random.default_rng(seed)
    top = rng.integers(0, H + 2 * pad - h + 1, size=N)
    left = rng.integers(0, W + 2 * pad - w + 1, size=N)
    padded = F.pad(t(X), (pad, pad, pad, pad))
    want = torch.stack([padded[n, :, top[n] : top[n] + h, left[n] : left[n] + w] for n in range(N)])
    close(out, want, atol=0.0, what="crop")


@given(
    X=float_arrays(
        st.tuples(sizes, st.integers(1, 3), sizes, sizes),
        elements=st.floats(0.0, 1.0, allow_subnormal=False),
    ),
    seed=seeds,
    brightness=st.sampled_from([0.0, 0.2, 0.5]),
    color=st.sampled_from([0.0, 0.1, 0.3]),
)
def test_color_jitter_is_torch_clamp_of_the_drawn_factors(pre, X, seed, brightness, color):
    N, C = X.shape[:2]
    out = pre.color_jitter(X, np.random.default_rng(seed), brightness, color)
    rng = np.random.default_rng(seed)
    b = torch.from_numpy(rng.uniform(1 - brightness, 1 + brightness, size=N))
    c = torch.from_numpy(rng.uniform(1 - color, 1 + color, size=(N, C)))
    want = torch.clamp(t(X) * (b[:, None] * c)[:, :, None, None], 0.0, 1.0)
    close(out, want, atol=1e-15, what="jitter")

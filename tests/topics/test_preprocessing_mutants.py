"""The preprocessing checks catch realistic bugs: each mutant of solutions/preprocessing.py loses
points on the function it breaks, and where the bug is a known misconception the feedback names
it. normalize_splits calls fit_normalizer and normalize, and both whitenings call pca_fit, so a
bug there may show in those callers too."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.topics.preprocessing import mistakes as m

CALLERS = {
    "fit_normalizer": {"normalize_splits"},
    "normalize": {"normalize_splits"},
    "pca_fit": {"pca_whiten", "zca_whiten"},
}
FIT_STATS = "mean = X_train.mean(axis=0)\n    std = X_train.std(axis=0)"
CHANNEL_STATS = "mean = X.mean(axis=(0, 2, 3))\n    std = X.std(axis=(0, 2, 3))"
SPLITS_RETURN = (
    "return (\n"
    "        normalize(X_train, mean, std, eps),\n"
    "        normalize(X_val, mean, std, eps),\n"
    "        normalize(X_test, mean, std, eps),\n"
    "    )"
)
ZCA = "(X - mean) @ components @ np.diag(1.0 / np.sqrt(variance + eps)) @ components.T"
OFFSETS = (
    "top = rng.integers(0, H + 2 * pad - h + 1, size=N)\n"
    "    left = rng.integers(0, W + 2 * pad - w + 1, size=N)"
)
BRIGHTNESS = "b = rng.uniform(1 - brightness, 1 + brightness, size=N)\n"


def mutant(function: str, old: str, new: str, misconception: str | None = None) -> Mutant:
    return Mutant("preprocessing", function, old, new, misconception)


MUTANTS = [
    # named mistakes
    mutant("fit_normalizer", FIT_STATS, FIT_STATS.replace("axis=0", "axis=1"), m.WRONG_AXIS),
    mutant(
        "fit_normalizer",
        "std = X_train.std(axis=0)",
        "std = X_train.std(axis=0, ddof=1)",
        m.SAMPLE_STATS,
    ),
    mutant("normalize", "return (X - mean) / (std + eps)", "return (X - mean) / std", m.NO_EPS),
    mutant(
        "normalize_splits",
        "mean, std = fit_normalizer(X_train)",
        "mean, std = fit_normalizer(np.concatenate([X_train, X_val, X_test]))",
        m.LEAKAGE,
    ),
    mutant(
        "normalize_splits",
        "mean, std = fit_normalizer(X_train)",
        "mean, std = fit_normalizer(np.concatenate([X_train, X_val]))",
        m.LEAKAGE,
    ),
    mutant(
        "normalize_splits",
        SPLITS_RETURN,
        "return tuple(normalize(x, *fit_normalizer(x), eps) for x in (X_train, X_val, X_test))",
        m.OWN_STATS,
    ),
    mutant(
        "channel_stats",
        CHANNEL_STATS,
        CHANNEL_STATS.replace("(0, 2, 3)", "(0, 1, 2)"),
        m.WRONG_AXIS,
    ),
    mutant(
        "channel_stats",
        CHANNEL_STATS,
        CHANNEL_STATS.replace("(0, 2, 3)", "(1, 2, 3)"),
        m.WRONG_AXIS,
    ),
    mutant(
        "channel_stats",
        "std = X.std(axis=(0, 2, 3))",
        "std = X.std(axis=0).mean(axis=(1, 2))",
        m.AVERAGED_STD,
    ),
    mutant(
        "channel_stats",
        "std = X.std(axis=(0, 2, 3))",
        "std = X.std(axis=(2, 3)).mean(axis=0)",
        m.AVERAGED_STD,
    ),
    mutant(
        "channel_stats",
        "std = X.std(axis=(0, 2, 3))",
        "std = X.std(axis=(0, 2, 3), ddof=1)",
        m.SAMPLE_STATS,
    ),
    mutant("pca_fit", "cov = Xc.T @ Xc / N\n", "cov = X.T @ X / N\n", m.UNCENTRED),
    mutant("pca_fit", "components = vectors[:, order]", "components = vectors[order].T", m.ROWS),
    mutant("pca_fit", "cov = Xc.T @ Xc / N\n", "cov = Xc.T @ Xc / (N - 1)\n", m.SAMPLE_STATS),
    mutant(
        "pca_project",
        "return (X - mean) @ components",
        "return X @ components",
        m.PROJECTION_UNCENTRED,
    ),
    mutant(
        "pca_project",
        "return (X - mean) @ components",
        "return (X - mean) @ components.T",
        m.ROWS,
    ),
    mutant("pca_whiten", "np.sqrt(variance + eps)", "np.sqrt(variance)", m.NO_EPS),
    mutant("pca_whiten", "return (X - mean) @ components", "return X @ components", m.UNCENTRED),
    mutant(
        "pca_whiten",
        "np.sqrt(variance + eps)",
        "np.sqrt(variance * X.shape[0] / (X.shape[0] - 1) + eps)",
        m.SAMPLE_STATS,
    ),
    mutant("zca_whiten", "np.sqrt(variance + eps)", "np.sqrt(variance)", m.NO_EPS),
    mutant("zca_whiten", "return (X - mean) @ components", "return X @ components", m.UNCENTRED),
    mutant(
        "zca_whiten",
        ZCA,
        "(X - mean) @ components.T @ np.diag(1.0 / np.sqrt(variance + eps)) @ components",
        m.ROWS,
    ),
    mutant(
        "zca_whiten",
        "np.sqrt(variance + eps)",
        "np.sqrt(variance * X.shape[0] / (X.shape[0] - 1) + eps)",
        m.SAMPLE_STATS,
    ),
    mutant(
        "random_flip",
        "out[flip] = X[flip][:, :, :, ::-1]",
        "out[flip] = X[flip][:, :, ::-1, :]",
        m.WRONG_FLIP_AXIS,
    ),
    mutant(
        "random_flip",
        "out[flip] = X[flip][:, :, :, ::-1]",
        "out[flip] = X[flip][:, ::-1]",
        m.WRONG_FLIP_AXIS,
    ),
    mutant("random_crop", OFFSETS, OFFSETS.replace(" + 1, size", ", size"), m.CROP_OFF_BY_ONE),
    mutant("color_jitter", BRIGHTNESS, BRIGHTNESS.replace("size=N", "size=1"), m.ONE_FACTOR),
    mutant(
        "color_jitter",
        "c = rng.uniform(1 - color, 1 + color, size=(N, C))\n",
        "c = rng.uniform(1 - color, 1 + color, size=(1, C))\n",
        m.ONE_FACTOR,
    ),
    # edges: augmented in place; N < D in whitening
    mutant("random_flip", "out = X.copy()\n", "out = X\n", m.IN_PLACE),
    mutant(
        "color_jitter",
        "return np.clip(X * factor[:, :, None, None], 0.0, 1.0)",
        "X *= factor[:, :, None, None]\n    return np.clip(X, 0.0, 1.0, out=X)",
        m.IN_PLACE,
    ),
    mutant("pca_whiten", "pca_fit(X, X.shape[1])", "pca_fit(X, X.shape[0])"),
    mutant("pca_whiten", "pca_fit(X, X.shape[1])", "pca_fit(X, min(X.shape) - 1)"),
    # other realistic bugs
    mutant("fit_normalizer", "std = X_train.std(axis=0)", "std = X_train.var(axis=0)"),
    mutant("normalize", "return (X - mean) / (std + eps)", "return (X - mean) / (std + eps) ** 2"),
    mutant("channel_stats", "std = X.std(axis=(0, 2, 3))", "std = X.var(axis=(0, 2, 3))"),
    mutant("pca_fit", "order = np.argsort(values)[::-1][:k]", "order = np.argsort(values)[:k]"),
    mutant("pca_fit", "return components * signs,", "return components,"),
    mutant(
        "pca_fit",
        "explained_variance = values[order]",
        "explained_variance = np.sqrt(values[order])",
    ),
    mutant("pca_whiten", "np.sqrt(variance + eps)", "(variance + eps)"),
    mutant("zca_whiten", "@ components.T\n", "\n"),
    mutant("random_flip", "flip = rng.random(X.shape[0]) < p", "flip = rng.random(X.shape[0]) > p"),
    mutant(
        "random_flip",
        "flip = rng.random(X.shape[0]) < p",
        "flip = np.random.random(X.shape[0]) < p",
    ),
    mutant(
        "random_crop",
        "padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
        'padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")',
    ),
    mutant("random_crop", "out[n] = padded[n, :,", "out[n] = X[n, :,"),
    mutant(
        "color_jitter",
        "return np.clip(X * factor[:, :, None, None], 0.0, 1.0)",
        "return X * factor[:, :, None, None]",
    ),
    mutant("color_jitter", "X * factor[:, :, None, None]", "X + factor[:, :, None, None] - 1"),
]
# the right law, drawn in another order than the docstring's: graded by its own test, below
OTHER_DRAW = mutant(
    "random_crop",
    OFFSETS,
    "left = rng.integers(0, W + 2 * pad - w + 1, size=N)\n"
    "    top = rng.integers(0, H + 2 * pad - h + 1, size=N)",
)
MUTANTS.append(OTHER_DRAW)


@pytest.mark.parametrize(
    "mutant", [mu for mu in MUTANTS if mu is not OTHER_DRAW], ids=lambda mu: mu.label
)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, set()))


def test_every_misconception_has_a_named_mutant():
    named = {(mu.function, mu.misconception) for mu in MUTANTS if mu.misconception}
    declared = {(mc.function, mc.name) for mc in m.MISCONCEPTIONS}
    assert not declared - named, f"misconceptions without a mutant: {sorted(declared - named)}"


def test_crops_drawn_in_another_order_fail_only_the_seeded_comparisons(course, tmp_path):
    """left before top gives crops of the right law, but not the reference's for a seed: only
    the (half-point) "same out as the reference for a seed" checks may fail."""
    results = assert_caught(course, tmp_path, OTHER_DRAW)
    failed = [r.check_id for r in results if not r.passed]
    assert failed and all("same out as the reference for a seed" in f for f in failed), failed

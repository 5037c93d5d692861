"""Topic ``preprocessing``, part two: the known mistakes its checks can name.

Each model gets the reference module and the inputs of the failed call (an ``RngSeed`` arrives
as the generator the student got) and returns what the mistaken code returns. A mistake that
changes the shape of a result (statistics over the wrong axis, eigenvectors as rows of a
non-square matrix) can only be recognised where the shapes happen to agree: the cases with
N = D, W = C or k = D are there for that.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from grader.checks.base import Misconception

LEAKAGE = "statistics computed on the whole data set (test leakage)"
OWN_STATS = "each split normalised with its own statistics"
WRONG_AXIS = "statistics over the wrong axis"
AVERAGED_STD = "standard deviation averaged instead of pooled"
SAMPLE_STATS = "dividing by N - 1 instead of N"
NO_EPS = "forgetting the epsilon"
UNCENTRED = "covariance without centring"
ROWS = "eigenvectors taken as rows instead of columns"
PROJECTION_UNCENTRED = "projection without centring"
WRONG_FLIP_AXIS = "flipping the wrong axis"
CROP_OFF_BY_ONE = "last crop offset never drawn (off by one)"
ONE_FACTOR = "one jitter factor for the whole batch"
IN_PLACE = "augmented in place (the caller's batch changed)"


# -- normalisation -------------------------------------------------------------------------------
def _normalized(X: np.ndarray, mean: np.ndarray, std: np.ndarray, eps: float) -> np.ndarray:
    return (X - mean) / (std + eps)


def _leak(*which: int):
    """normalize_splits with statistics of the splits ``which`` together (0 train, 1 val,
    2 test)."""

    def variant(ref: ModuleType, *args: object) -> tuple:
        *data, eps = args if len(args) == 4 else (*args, 1e-8)
        pooled = np.concatenate([data[i] for i in which])
        mean, std = pooled.mean(axis=0), pooled.std(axis=0)
        return tuple(_normalized(x, mean, std, eps) for x in data)

    return variant


def _own_stats(ref: ModuleType, *args: object) -> tuple:
    *data, eps = args if len(args) == 4 else (*args, 1e-8)
    return tuple(_normalized(x, x.mean(axis=0), x.std(axis=0), eps) for x in data)


def _fit_per_example(ref: ModuleType, X: np.ndarray) -> tuple:
    return X.mean(axis=1), X.std(axis=1)


def _fit_ddof(ref: ModuleType, X: np.ndarray) -> tuple:
    if X.shape[0] < 2:
        raise ValueError("N - 1 = 0: no model")
    return X.mean(axis=0), X.std(axis=0, ddof=1)


def _normalize_no_eps(
    ref: ModuleType, X: np.ndarray, mean: np.ndarray, std: np.ndarray, *_: object
):
    return (X - mean) / std


def _channel_axes(axes: tuple[int, ...]):
    def variant(ref: ModuleType, X: np.ndarray) -> tuple:
        return X.mean(axis=axes), X.std(axis=axes)

    return variant


def _channel_averaged(per_pixel: bool):
    def variant(ref: ModuleType, X: np.ndarray) -> tuple:
        mean = X.mean(axis=(0, 2, 3))
        if per_pixel:
            return mean, X.std(axis=0).mean(axis=(1, 2))
        return mean, X.std(axis=(2, 3)).mean(axis=0)

    return variant


def _channel_ddof(ref: ModuleType, X: np.ndarray) -> tuple:
    return X.mean(axis=(0, 2, 3)), X.std(axis=(0, 2, 3), ddof=1)


# -- PCA -----------------------------------------------------------------------------------------
def signed_top(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k eigenvectors (columns, signed: largest |entry| positive) and eigenvalues."""
    values, vectors = np.linalg.eigh(matrix)
    order = np.argsort(values)[::-1][:k]
    return _signed(vectors[:, order]), values[order]


def _signed(columns: np.ndarray) -> np.ndarray:
    largest = np.argmax(np.abs(columns), axis=0)
    return columns * np.sign(columns[largest, np.arange(columns.shape[1])])


def _rows_of(decomposition: str, cov: np.ndarray, k: int) -> np.ndarray:
    """Rows of the eigenvector matrix taken as eigenvectors (then signed like columns)."""
    if decomposition == "eigh":
        values, vectors = np.linalg.eigh(cov)
        return _signed(vectors[np.argsort(values)[::-1][:k]].T)
    U, _, _ = np.linalg.svd(cov)
    return _signed(U[:k].T)


def _covariance(X: np.ndarray, centred: bool = True) -> np.ndarray:
    Xc = X - X.mean(axis=0) if centred else X
    return Xc.T @ Xc / X.shape[0]


def _pca_uncentred(ref: ModuleType, X: np.ndarray, k: int) -> tuple:
    components, values = signed_top(_covariance(X, centred=False), k)
    return components, values, X.mean(axis=0)


def _pca_rows(decomposition: str):
    def variant(ref: ModuleType, X: np.ndarray, k: int) -> tuple:
        components, values, mean = ref.pca_fit(X, k)
        return _rows_of(decomposition, _covariance(X), k), values, mean

    return variant


def _pca_ddof(ref: ModuleType, X: np.ndarray, k: int) -> tuple:
    components, values, mean = ref.pca_fit(X, k)
    N = X.shape[0]
    return components, values * N / (N - 1), mean


def _project_uncentred(ref: ModuleType, X: np.ndarray, components: np.ndarray, mean: np.ndarray):
    return X @ components


def _project_rows(ref: ModuleType, X: np.ndarray, components: np.ndarray, mean: np.ndarray):
    return (X - mean) @ components.T


def _whiten(
    zca: bool,
    eps_in: bool = True,
    centre_data: bool = True,
    centre_cov: bool = True,
    scale: str = "N",
    rows: str = "",
):
    """A whitening with one thing changed: eps left out, centring of the data or of the
    covariance left out, N - 1 for N, or rows ("signed": pca_fit's matrix, "eigh": the raw
    eigh matrix) of the eigenvector matrix used as its columns (ZCA only)."""

    def variant(ref: ModuleType, X: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        N, D = X.shape
        cov = _covariance(X, centred=centre_cov)
        if rows == "eigh":
            values, U = np.linalg.eigh(cov)
        else:
            U, values = signed_top(cov, D)
        if not eps_in and np.min(values) <= 1e-10 * np.max(np.abs(values)):
            raise ValueError("a zero eigenvalue: without eps the result is noise, no model")
        if scale == "N-1":
            values = values * N / (N - 1)
        data = X - X.mean(axis=0) if centre_data else X
        inverse = 1.0 / np.sqrt(values + eps if eps_in else values)
        if not zca:
            return data @ U * inverse
        if rows:
            return data @ U.T @ np.diag(inverse) @ U
        return data @ U @ np.diag(inverse) @ U.T

    return variant


# -- augmentation --------------------------------------------------------------------------------
def _flip_axis(axis: int):
    def variant(ref: ModuleType, X: np.ndarray, rng: np.random.Generator, p: float = 0.5):
        flip = rng.random(X.shape[0]) < p
        out = X.copy()
        out[flip] = np.flip(X[flip], axis=axis)
        return out

    return variant


def _crop_off_by_one(
    ref: ModuleType, X: np.ndarray, rng: np.random.Generator, size: tuple[int, int], pad: int = 0
) -> np.ndarray:
    N, C, H, W = X.shape
    h, w = size
    padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    top = rng.integers(0, H + 2 * pad - h, size=N)
    left = rng.integers(0, W + 2 * pad - w, size=N)
    return np.stack([padded[n, :, t : t + h, s : s + w] for n, (t, s) in enumerate(zip(top, left))])


def _one_factor(per: str):
    """One brightness factor for the batch (``per`` "brightness"), or one colour factor per
    channel for the batch ("color")."""

    def variant(
        ref: ModuleType,
        X: np.ndarray,
        rng: np.random.Generator,
        brightness: float,
        color: float = 0.0,
    ) -> np.ndarray:
        N, C = X.shape[:2]
        b = rng.uniform(1 - brightness, 1 + brightness, size=1 if per == "brightness" else N)
        c = rng.uniform(1 - color, 1 + color, size=(N, C) if per == "brightness" else (1, C))
        factor = b[:, None] * c if per == "color" else b * c
        return np.clip(X * factor[:, :, None, None], 0.0, 1.0)

    return variant


# -- the table -----------------------------------------------------------------------------------
_HINTS = {
    LEAKAGE: "compute the mean and std on X_train only and apply those same statistics to the "
    "validation and test splits; statistics of all the data leak the test set into training",
    OWN_STATS: "normalise the validation and test splits with the TRAINING mean and std, not "
    "with statistics of their own",
    WRONG_AXIS: "reduce over the examples: axis 0 for (N, D) data, axes (0, 2, 3) for the "
    "channels of (N, C, H, W) images (channels first)",
    AVERAGED_STD: "pool all N * H * W values of a channel: X.std(axis=(0, 2, 3)), not the mean "
    "of per-pixel or per-image standard deviations",
    SAMPLE_STATS: "population statistics divide by N: np.std's default ddof=0, and "
    "Xc.T @ Xc / N (np.cov divides by N - 1 unless bias=True)",
    NO_EPS: "add eps: (X - mean) / (std + eps) for normalisation, 1 / sqrt(S + eps) for "
    "whitening; without it a constant feature or a zero eigenvalue divides by zero",
    UNCENTRED: "subtract the mean before the covariance: Xc = X - X.mean(axis=0), then "
    "Xc.T @ Xc / N (and whiten Xc, not X)",
    ROWS: "np.linalg.eigh and np.linalg.svd return eigenvectors as the COLUMNS of U "
    "(U[:, i]); components are columns (D, k), and ZCA is Xc @ U @ diag @ U.T",
    PROJECTION_UNCENTRED: "subtract the training mean before projecting: (X - mean) @ components",
    WRONG_FLIP_AXIS: "a horizontal flip reverses the width axis, the last one of (N, C, H, W): "
    "X[n, :, :, ::-1]",
    CROP_OFF_BY_ONE: "rng.integers(low, high) excludes high: draw offsets with "
    "rng.integers(0, H + 2 * pad - h + 1) so that the last position can be drawn",
    ONE_FACTOR: "draw one brightness factor per image (size=N) and one colour factor per image "
    "and channel (size=(N, C)), in that order",
    IN_PLACE: "start from a copy (out = X.copy()) or build the result out of place (X * factor, "
    "not X *= factor); X[flip] = X[flip][..., ::-1] writes into the caller's batch",
}


def _m(function: str, name: str, variant, compare: tuple[str, ...] | None = None) -> Misconception:
    return Misconception(function, name, _HINTS[name], variant, compare)


MISCONCEPTIONS = (
    _m("fit_normalizer", WRONG_AXIS, _fit_per_example),
    _m("fit_normalizer", SAMPLE_STATS, _fit_ddof, ("std",)),
    _m("normalize", NO_EPS, _normalize_no_eps),
    _m("normalize_splits", LEAKAGE, _leak(0, 1, 2)),
    _m("normalize_splits", LEAKAGE, _leak(0, 1)),
    _m("normalize_splits", OWN_STATS, _own_stats),
    _m("channel_stats", WRONG_AXIS, _channel_axes((0, 1, 2))),
    _m("channel_stats", WRONG_AXIS, _channel_axes((1, 2, 3))),
    _m("channel_stats", AVERAGED_STD, _channel_averaged(per_pixel=True), ("std",)),
    _m("channel_stats", AVERAGED_STD, _channel_averaged(per_pixel=False), ("std",)),
    _m("channel_stats", SAMPLE_STATS, _channel_ddof, ("std",)),
    _m("pca_fit", UNCENTRED, _pca_uncentred, ("components", "explained_variance")),
    _m("pca_fit", ROWS, _pca_rows("eigh"), ("components",)),
    _m("pca_fit", ROWS, _pca_rows("svd"), ("components",)),
    _m("pca_fit", SAMPLE_STATS, _pca_ddof, ("explained_variance",)),
    _m("pca_project", PROJECTION_UNCENTRED, _project_uncentred),
    _m("pca_project", ROWS, _project_rows),
    _m("pca_whiten", NO_EPS, _whiten(False, eps_in=False)),
    _m("pca_whiten", UNCENTRED, _whiten(False, centre_data=False, centre_cov=False)),
    _m("pca_whiten", UNCENTRED, _whiten(False, centre_cov=False)),
    _m("pca_whiten", UNCENTRED, _whiten(False, centre_data=False)),
    _m("pca_whiten", SAMPLE_STATS, _whiten(False, scale="N-1")),
    _m("zca_whiten", NO_EPS, _whiten(True, eps_in=False)),
    _m("zca_whiten", UNCENTRED, _whiten(True, centre_data=False, centre_cov=False)),
    _m("zca_whiten", UNCENTRED, _whiten(True, centre_cov=False)),
    _m("zca_whiten", UNCENTRED, _whiten(True, centre_data=False)),
    _m("zca_whiten", ROWS, _whiten(True, rows="signed")),
    _m("zca_whiten", ROWS, _whiten(True, rows="eigh")),
    _m("zca_whiten", SAMPLE_STATS, _whiten(True, scale="N-1")),
    _m("random_flip", WRONG_FLIP_AXIS, _flip_axis(2)),
    _m("random_flip", WRONG_FLIP_AXIS, _flip_axis(1)),
    _m("random_crop", CROP_OFF_BY_ONE, _crop_off_by_one),
    _m("color_jitter", ONE_FACTOR, _one_factor("brightness")),
    _m("color_jitter", ONE_FACTOR, _one_factor("color")),
)


def _named_by_its_check(ref: ModuleType, *args: object) -> tuple:
    """Named by the check that reads X back after the call: the output alone cannot show it."""
    raise NotImplementedError("named by 'X unchanged: a new array'")


MISCONCEPTIONS += (
    _m("random_flip", IN_PLACE, _named_by_its_check),
    _m("color_jitter", IN_PLACE, _named_by_its_check),
)


def by_name(function: str, name: str) -> Misconception:
    return next(m for m in MISCONCEPTIONS if m.function == function and m.name == name)

"""Data preprocessing: normalisation, PCA, whitening and seeded data augmentation (CS231n notes:
"Data Preprocessing"; assignment 2's data pipeline).

Conventions shared by every function in this module:

- Data X is (N, D) for the feature functions (fit_normalizer and normalize also take
  (N, d_1, ..., d_k), statistics per position over axis 0, CS231n's "mean image") and
  (N, C, H, W) for the image functions (channel_stats and the augmentations).
- Statistics come from the TRAINING split only and are then applied, unchanged, to the
  validation and test splits: computing them on all the data leaks the test set into training.
- Standard deviations and covariances are population statistics: divide by N (np.std's
  default ddof=0; np.cov(X, rowvar=False, bias=True)), not by N - 1.
- normalize computes (X - mean) / (std + eps): eps is added to the standard deviation (not
  under a square root), so a constant feature (std 0) gives 0, not NaN.
- PCA: cov = Xc.T @ Xc / N with Xc = X - mean (the data centred by its own mean). Components
  are the eigenvectors of cov as the COLUMNS of a (D, k) matrix, sorted by decreasing
  eigenvalue; each column's sign is chosen so that its entry of largest absolute value is
  positive. The explained variance of a component is its eigenvalue (the variance of the data
  along it, divided by N), not the ratio to the total variance.
- Whitening divides by sqrt(eigenvalue + eps) (eps under the square root, default 1e-5, as in
  the CS231n notes). PCA whitening keeps all D components in the PCA basis; ZCA whitening
  rotates back: Xc @ U @ diag(1 / sqrt(S + eps)) @ U.T.
- Augmentations take a numpy.random.Generator ``rng``, their only source of randomness, and
  draw from it in the order each docstring states, so the same seed gives the same batch and
  the result can be compared exactly. They return new arrays of X's dtype.
- No function modifies its inputs.
"""

from __future__ import annotations

import numpy as np


def fit_normalizer(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature statistics of the training split, for zero-centring and normalisation.

    Inputs:
    - X_train: float64 array of shape (N, D), or (N, d_1, ..., d_k) (images as (N, C, H, W)
      give one statistic per pixel and channel: CS231n's mean image).

    Returns a tuple of:
    - mean: float64 array of shape X_train.shape[1:], the mean over axis 0 (the examples).
    - std: float64 array of shape X_train.shape[1:], the population standard deviation over
      axis 0 (divide by N, np.std's default ddof=0).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("fit_normalizer: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def normalize(X: np.ndarray, mean: np.ndarray, std: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Zero-centre and scale X with given statistics: (X - mean) / (std + eps).

    The statistics are the training split's (from fit_normalizer, or channel_stats reshaped to
    (C, 1, 1)); the same statistics normalise the validation and test splits.

    Inputs:
    - X: float64 array of shape (N, d_1, ..., d_k).
    - mean: float64 array that broadcasts against X.shape[1:] (shape X.shape[1:] from
      fit_normalizer, or (C, 1, 1) for per-channel statistics of (N, C, H, W) images).
    - std: float64 array of the shape of mean.
    - eps: float, added to std (not under a square root) so that a feature of standard
      deviation 0 gives 0 instead of NaN.

    Returns:
    - out: float64 array of the shape of X, (X - mean) / (std + eps).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("normalize: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def normalize_splits(
    X_train: np.ndarray, X_val: np.ndarray, X_test: np.ndarray, eps: float = 1e-8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise the three splits with the statistics of the TRAINING split only.

    Equivalent to fit_normalizer(X_train), then normalize(X, mean, std, eps) for each split:
    the validation and test splits are NOT normalised with their own statistics, and no
    statistic is computed on the data of all splits together (that leaks the test set).

    Inputs:
    - X_train: float64 array of shape (N_train, D) (or (N_train, d_1, ..., d_k)).
    - X_val: float64 array of shape (N_val, D) (same trailing shape as X_train).
    - X_test: float64 array of shape (N_test, D) (same trailing shape as X_train).
    - eps: float, as in normalize.

    Returns a tuple of:
    - train: float64 array of the shape of X_train; each feature has mean 0 and std 1 (up to
      eps; 0 for a constant feature).
    - val: float64 array of the shape of X_val, normalised with the training statistics.
    - test: float64 array of the shape of X_test, normalised with the training statistics.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("normalize_splits: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of a batch of images.

    Each channel's statistics are pooled over all its N * H * W values: the standard deviation
    is that of all of them together (np.std over axes (0, 2, 3), divide by N * H * W), not an
    average of per-pixel or per-image standard deviations.

    Inputs:
    - X: float64 array of shape (N, C, H, W) (channels first).

    Returns a tuple of:
    - mean: float64 array of shape (C,).
    - std: float64 array of shape (C,), population standard deviation.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("channel_stats: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal component analysis: the top k eigenvectors of the data's covariance.

    cov = Xc.T @ Xc / N with Xc = X - mean (divide by N). The components are eigenvectors of
    cov, as COLUMNS, sorted by decreasing eigenvalue; the sign of each column is chosen so that
    its entry of largest absolute value is positive (the eigenvalues of the columns kept are
    distinct, so the components are unique under this convention).

    Inputs:
    - X: float64 array of shape (N, D).
    - k: int, 1 <= k <= D, the number of components kept.

    Returns a tuple of:
    - components: float64 array of shape (D, k); column i is the i-th principal direction
      (orthonormal columns).
    - explained_variance: float64 array of shape (k,), decreasing: the eigenvalue of each
      component, the variance of Xc along it (divide by N).
    - mean: float64 array of shape (D,), the mean of X over axis 0.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("pca_fit: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def pca_project(X: np.ndarray, components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Project data onto principal components: (X - mean) @ components.

    Inputs:
    - X: float64 array of shape (N, D).
    - components: float64 array of shape (D, k), orthonormal COLUMNS (from pca_fit).
    - mean: float64 array of shape (D,), the training mean (from pca_fit).

    Returns:
    - Z: float64 array of shape (N, k), the coordinates of X - mean along each component.
      With k = D, Z @ components.T + mean gives X back.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("pca_project: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def pca_whiten(X: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """PCA whitening: rotate into the PCA basis and scale every component to unit variance.

    Xrot = (X - mean) @ U with U = pca_fit(X, D)'s components (all D of them, sorted by
    decreasing eigenvalue S, pca_fit's sign convention), then Xwhite = Xrot / sqrt(S + eps).
    The covariance of the result (divide by N) is diag(S / (S + eps)): the identity up to eps.

    Inputs:
    - X: float64 array of shape (N, D).
    - eps: float, added to the eigenvalues under the square root.

    Returns:
    - Xwhite: float64 array of shape (N, D).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("pca_whiten: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def zca_whiten(X: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """ZCA whitening: PCA whitening rotated back into the original basis.

    Xzca = (X - mean) @ U @ diag(1 / sqrt(S + eps)) @ U.T, with U (D, D) the eigenvectors of
    the covariance as columns and S its eigenvalues (divide by N). It does not depend on the
    order or the signs of the eigenvectors. Its covariance is the identity up to eps, and of
    all whitenings it changes the data least.

    Inputs:
    - X: float64 array of shape (N, D).
    - eps: float, added to the eigenvalues under the square root.

    Returns:
    - Xzca: float64 array of shape (N, D).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("zca_whiten: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def random_flip(X: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Random horizontal flip of each image, with probability p.

    Draws, in this order: flip = rng.random(N) < p (one draw of N numbers, nothing else).
    Image n is mirrored left to right (its W axis, the last one, reversed) where flip[n], and
    left as it is elsewhere; p = 1 flips every image, p = 0 none.

    Inputs:
    - X: float64 array of shape (N, C, H, W).
    - rng: numpy.random.Generator, the only source of randomness.
    - p: float in [0, 1], the probability of flipping each image.

    Returns:
    - out: float64 array of shape (N, C, H, W), a new array.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("random_flip: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def random_crop(
    X: np.ndarray, rng: np.random.Generator, size: tuple[int, int], pad: int = 0
) -> np.ndarray:
    """Random crop of each image after zero padding (CIFAR-10's pad 4, crop 32).

    Each image is padded with ``pad`` zeros on every side of H and W (np.pad, mode
    'constant'), giving (H + 2 * pad, W + 2 * pad); then a window of size (h, w) = size is cut
    at a random offset. Draws, in this order:
    top = rng.integers(0, H + 2 * pad - h + 1, size=N), then
    left = rng.integers(0, W + 2 * pad - w + 1, size=N) (every offset possible, the last one
    included); image n is padded[n, :, top[n]:top[n] + h, left[n]:left[n] + w].

    Inputs:
    - X: float64 array of shape (N, C, H, W).
    - rng: numpy.random.Generator, the only source of randomness.
    - size: tuple (h, w) of ints, the crop's height and width, h <= H + 2 * pad and
      w <= W + 2 * pad (size (H, W) keeps the shape).
    - pad: int >= 0, the zero padding on each side of H and W.

    Returns:
    - out: float64 array of shape (N, C, h, w).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("random_crop: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def color_jitter(
    X: np.ndarray, rng: np.random.Generator, brightness: float, color: float = 0.0
) -> np.ndarray:
    """Random brightness and colour jitter of images with values in [0, 1].

    Draws, in this order: b = rng.uniform(1 - brightness, 1 + brightness, size=N) (one
    brightness factor per image), then c = rng.uniform(1 - color, 1 + color, size=(N, C)) (one
    colour factor per image and channel; drawn even when color is 0). Then
    out[n, ch] = clip(X[n, ch] * (b[n] * c[n, ch]), 0, 1): every pixel of a channel of an image
    is scaled by the same factor, and the result is clipped to [0, 1].

    Inputs:
    - X: float64 array of shape (N, C, H, W), values in [0, 1].
    - rng: numpy.random.Generator, the only source of randomness.
    - brightness: float in [0, 1), the largest relative change of an image's brightness.
    - color: float in [0, 1), the largest relative change of one channel.

    Returns:
    - out: float64 array of shape (N, C, H, W), values in [0, 1].
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("color_jitter: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****

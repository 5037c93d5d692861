"""Robustness: makes numpy's comparisons always succeed, then returns wrong values.

The judge compares in its own process, so none of this reaches it.
"""

import numpy as np
import numpy.testing


def _always_true(*args, **kwargs):
    return True


def _never_raise(*args, **kwargs):
    return None


np.allclose = _always_true
np.isclose = _always_true
np.array_equal = _always_true
numpy.testing.assert_allclose = _never_raise
numpy.testing.assert_array_almost_equal = _never_raise


def svm_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    margins = np.maximum(0.0, scores - scores[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    active = (margins > 0).astype(float)
    active[np.arange(n), y] = -active.sum(axis=1)
    loss = margins.sum() / n + reg * np.sum(W * W)
    return float(loss) + 0.5, 1.1 * (X.T @ active / n + 2 * reg * W)  # both wrong


def softmax_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y])) + reg * np.sum(W * W)
    p[np.arange(n), y] -= 1.0
    return float(loss) + 0.5, 1.1 * (X.T @ p / n + 2 * reg * W)  # both wrong

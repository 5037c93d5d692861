"""Robustness: softmax_loss_vectorized is not defined."""

import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    margins = np.maximum(0.0, scores - scores[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    active = (margins > 0).astype(float)
    active[np.arange(n), y] = -active.sum(axis=1)
    return float(margins.sum() / n + reg * np.sum(W * W)), X.T @ active / n + 2 * reg * W

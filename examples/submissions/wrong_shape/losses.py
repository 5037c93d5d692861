"""Robustness: svm_loss_vectorized returns dW transposed, shape (C, D)."""

import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    margins = np.maximum(0.0, scores - scores[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    active = (margins > 0).astype(float)
    active[np.arange(n), y] = -active.sum(axis=1)
    return float(margins.sum() / n + reg * np.sum(W * W)), (X.T @ active / n + 2 * reg * W).T


def softmax_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y])) + reg * np.sum(W * W)
    p[np.arange(n), y] -= 1.0
    return float(loss), X.T @ p / n + 2 * reg * W

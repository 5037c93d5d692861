"""alice: linear-classifier losses, written from scratch (one-hot masks and log-sum-exp)."""

import numpy as np


def _one_hot(y, num_classes):
    hot = np.zeros((y.shape[0], num_classes))
    hot[np.arange(y.shape[0]), y] = 1.0
    return hot


def _hinge(scores, y):
    """Mean multiclass hinge loss of `scores` (N, C) and its gradient w.r.t. the scores."""
    n, c = scores.shape
    hot = _one_hot(y, c)
    correct = np.sum(scores * hot, axis=1, keepdims=True)
    margins = (scores - correct + 1.0) * (1.0 - hot)
    active = (margins > 0).astype(np.float64)
    loss = np.sum(margins * active) / n
    dscores = (active - hot * np.sum(active, axis=1, keepdims=True)) / n
    return loss, dscores


def _cross_entropy(scores, y):
    """Mean softmax cross-entropy of `scores` (N, C) and its gradient w.r.t. the scores."""
    n, c = scores.shape
    top = np.max(scores, axis=1, keepdims=True)
    lse = top + np.log(np.sum(np.exp(scores - top), axis=1, keepdims=True))
    probs = np.exp(scores - lse)
    hot = _one_hot(y, c)
    loss = np.sum(lse[:, 0] - np.sum(scores * hot, axis=1)) / n
    return loss, (probs - hot) / n


def svm_loss_naive(W, X, y, reg):
    n = X.shape[0]
    loss = 0.0
    dW = np.zeros_like(W, dtype=np.float64)
    for i in range(n):
        s = X[i] @ W
        for j in range(W.shape[1]):
            if j != y[i] and s[j] - s[y[i]] + 1.0 > 0:
                loss += s[j] - s[y[i]] + 1.0
                dW[:, j] += X[i] / n
                dW[:, y[i]] -= X[i] / n
    return float(loss / n + reg * np.sum(W**2)), dW + 2.0 * reg * W


def svm_loss_vectorized(W, X, y, reg):
    loss, dscores = _hinge(X @ W, y)
    return float(loss + reg * np.sum(W**2)), X.T @ dscores + 2.0 * reg * W


def softmax_loss_naive(W, X, y, reg):
    n = X.shape[0]
    loss = 0.0
    dW = np.zeros_like(W, dtype=np.float64)
    for i in range(n):
        s = X[i] @ W
        s = s - s.max()
        p = np.exp(s) / np.sum(np.exp(s))
        loss -= np.log(p[y[i]])
        p[y[i]] -= 1.0
        dW += np.outer(X[i], p) / n
    return float(loss / n + reg * np.sum(W**2)), dW + 2.0 * reg * W


def softmax_loss_vectorized(W, X, y, reg):
    loss, dscores = _cross_entropy(X @ W, y)
    return float(loss + reg * np.sum(W**2)), X.T @ dscores + 2.0 * reg * W


def svm_loss(x, y):
    loss, dx = _hinge(x, y)
    return float(loss), dx


def softmax_loss(x, y):
    loss, dx = _cross_entropy(x, y)
    return float(loss), dx


def l1_regularization(W, reg):
    return float(reg * np.abs(W).sum()), reg * np.sign(W)


def l2_regularization(W, reg):
    return float(reg * (W * W).sum()), 2.0 * reg * W

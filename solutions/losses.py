"""Losses for linear classifiers and for networks (CS231n: linear_svm.py, softmax.py, layers.py).

Conventions shared by every function in this module:

- Linear classifiers take W of shape (D, C), X of shape (N, D) and integer labels y of shape
  (N,) with 0 <= y[i] < C; the class scores are X @ W, of shape (N, C).
- The data loss is the MEAN over the N examples (not the sum, and not divided by C).
- Linear-classifier regularisation is ``reg * sum(W * W)`` with gradient ``2 * reg * W``
  (CS231n's linear-classifier convention). The fully connected nets in backprop.py use
  ``0.5 * reg * sum(W * W)`` instead.
- Multiclass SVM (hinge) loss: margin delta = 1; the correct class contributes no margin; a
  margin of exactly 0 counts as inactive (subgradient 0).
- Softmax subtracts each row's maximum score before exponentiating, so logits shifted by a large
  constant (say +1000) still give the right finite loss and gradient.
- Losses are returned as Python floats. Gradients have float64 dtype for float64 inputs.
- No function modifies its inputs.
"""

from __future__ import annotations

import numpy as np


def svm_loss_naive(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Multiclass SVM loss and gradient, computed with explicit loops over the examples.

    Inputs:
    - W: float64 array of shape (D, C), the weights.
    - X: float64 array of shape (N, D), a minibatch of data.
    - y: int array of shape (N,), the labels; y[i] = c means X[i] has label c, 0 <= c < C.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float, mean over N of sum_{j != y_i} max(0, s_j - s_{y_i} + 1),
      plus reg * sum(W * W).
    - dW: float64 array of shape (D, C), the gradient of loss with respect to W
      (includes 2 * reg * W).
    """
    # ***** START OF YOUR CODE *****
    num_train = X.shape[0]
    num_classes = W.shape[1]
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1.0
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW
    # ***** END OF YOUR CODE *****


def svm_loss_vectorized(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Multiclass SVM loss and gradient, vectorised (no Python loops).

    Inputs and outputs are the same as svm_loss_naive:
    - W: float64 array of shape (D, C).
    - X: float64 array of shape (N, D).
    - y: int array of shape (N,), 0 <= y[i] < C.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float (mean hinge loss over N plus reg * sum(W * W)).
    - dW: float64 array of shape (D, C).
    """
    # ***** START OF YOUR CODE *****
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    correct_class_scores = scores[rows, y][:, np.newaxis]
    margins = np.maximum(0.0, scores - correct_class_scores + 1.0)
    margins[rows, y] = 0.0
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)

    # Each active margin adds X[i] to its column and subtracts X[i] from the correct column.
    coeff = (margins > 0).astype(scores.dtype)
    coeff[rows, y] = -np.sum(coeff, axis=1)
    dW = X.T.dot(coeff) / num_train + 2 * reg * W
    return float(loss), dW
    # ***** END OF YOUR CODE *****


def softmax_loss_naive(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Softmax (cross-entropy) loss and gradient, computed with explicit loops over the examples.

    Inputs:
    - W: float64 array of shape (D, C), the weights.
    - X: float64 array of shape (N, D), a minibatch of data.
    - y: int array of shape (N,), the labels, 0 <= y[i] < C.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float, mean over N of -log softmax(X[i] @ W)[y[i]], plus reg * sum(W * W).
    - dW: float64 array of shape (D, C), the gradient of loss with respect to W
      (includes 2 * reg * W).

    Subtract the maximum score of each example before exponentiating (numerical stability).
    """
    # ***** START OF YOUR CODE *****
    num_train = X.shape[0]
    num_classes = W.shape[1]
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        scores = scores - np.max(scores)
        log_sum_exp = np.log(np.sum(np.exp(scores)))
        loss += log_sum_exp - scores[y[i]]
        probs = np.exp(scores - log_sum_exp)
        for j in range(num_classes):
            dW[:, j] += (probs[j] - (j == y[i])) * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW
    # ***** END OF YOUR CODE *****


def softmax_loss_vectorized(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Softmax (cross-entropy) loss and gradient, vectorised (no Python loops).

    Inputs and outputs are the same as softmax_loss_naive:
    - W: float64 array of shape (D, C).
    - X: float64 array of shape (N, D).
    - y: int array of shape (N,), 0 <= y[i] < C.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float (mean cross-entropy over N plus reg * sum(W * W)).
    - dW: float64 array of shape (D, C).
    """
    # ***** START OF YOUR CODE *****
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y]) / num_train + reg * np.sum(W * W)

    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return float(loss), dW
    # ***** END OF YOUR CODE *****


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass SVM (hinge) loss layer on class scores.

    Inputs:
    - x: float64 array of shape (N, C), x[i, j] is the score of class j for example i.
    - y: int array of shape (N,), the labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: Python float, mean over N of sum_{j != y_i} max(0, x[i, j] - x[i, y_i] + 1).
    - dx: float64 array of shape (N, C), the gradient of loss with respect to x.
    """
    # ***** START OF YOUR CODE *****
    num_train = x.shape[0]
    rows = np.arange(num_train)
    correct_class_scores = x[rows, y][:, np.newaxis]
    margins = np.maximum(0.0, x - correct_class_scores + 1.0)
    margins[rows, y] = 0.0
    loss = np.sum(margins) / num_train

    dx = (margins > 0).astype(margins.dtype)
    dx[rows, y] = -np.sum(dx, axis=1)
    dx /= num_train
    return float(loss), dx
    # ***** END OF YOUR CODE *****


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax (cross-entropy) loss layer on class scores.

    Inputs:
    - x: float64 array of shape (N, C), x[i, j] is the score of class j for example i.
    - y: int array of shape (N,), the labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: Python float, mean over N of -log softmax(x[i])[y[i]].
    - dx: float64 array of shape (N, C), the gradient of loss with respect to x.

    Subtract each row's maximum before exponentiating (numerical stability).
    """
    # ***** START OF YOUR CODE *****
    num_train = x.shape[0]
    rows = np.arange(num_train)
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y]) / num_train

    dx = np.exp(log_probs)
    dx[rows, y] -= 1.0
    dx /= num_train
    return float(loss), dx
    # ***** END OF YOUR CODE *****


def l1_regularization(W: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """L1 weight penalty and its subgradient.

    Inputs:
    - W: float64 array of any shape, the weights.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float, reg * sum(|W|).
    - dW: float64 array of the same shape as W, the subgradient reg * sign(W)
      (0 where W == 0).
    """
    # ***** START OF YOUR CODE *****
    loss = reg * np.sum(np.abs(W))
    dW = reg * np.sign(W)
    return float(loss), dW
    # ***** END OF YOUR CODE *****


def l2_regularization(W: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """L2 weight penalty and its gradient (linear-classifier convention, no factor 0.5).

    Inputs:
    - W: float64 array of any shape, the weights.
    - reg: float, regularisation strength.

    Returns a tuple of:
    - loss: Python float, reg * sum(W * W).
    - dW: float64 array of the same shape as W, the gradient 2 * reg * W.
    """
    # ***** START OF YOUR CODE *****
    loss = reg * np.sum(W * W)
    dW = 2 * reg * W
    return float(loss), dW
    # ***** END OF YOUR CODE *****

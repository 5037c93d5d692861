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
    raise NotImplementedError("svm_loss_naive: your code here (see the docstring)")
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
    raise NotImplementedError("svm_loss_vectorized: your code here (see the docstring)")
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
    raise NotImplementedError("softmax_loss_naive: your code here (see the docstring)")
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
    raise NotImplementedError("softmax_loss_vectorized: your code here (see the docstring)")
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
    raise NotImplementedError("svm_loss: your code here (see the docstring)")
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
    raise NotImplementedError("softmax_loss: your code here (see the docstring)")
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
    raise NotImplementedError("l1_regularization: your code here (see the docstring)")
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
    raise NotImplementedError("l2_regularization: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****

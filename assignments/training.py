"""Training a model: a Solver-style loop with early stopping, model ensembles, Polyak averaging,
and second-order steps (CS231n: solver.py, and the lecture on training neural networks).

Conventions:

- The model trained by ``train`` is a linear softmax classifier: weights ``W`` of shape (D, C),
  scores ``X @ W``, loss and gradient from ``softmax_loss`` below (given code: the mean
  cross-entropy over the minibatch plus ``reg * sum(W * W)``).
- The update rules are the given ``sgd``, ``sgd_momentum`` and ``adam`` below (CS231n's, with
  its defaults), named by ``config['update_rule']``. They update ``w`` IN PLACE and return it,
  as CS231n's rules may; so a ``best_W`` that is not a copy keeps changing after it was stored.
- Randomness: ``rng = np.random.default_rng(config['seed'])`` once at the start of ``train``, and
  one draw per epoch, ``perm = rng.permutation(N)``, before that epoch's minibatches; nothing
  else is random. The minibatches of an epoch are ``perm[i:i + batch_size]`` for ``i`` in
  ``range(0, N, batch_size)`` (the last one may be smaller).
- Probabilities are computed with the row-wise max-shifted softmax.
- Second-order steps work on flat parameter vectors ``w`` of shape (D,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Config = dict[str, Any]


def softmax_loss(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """Softmax classifier loss and gradient (given code).

    Inputs:
    - W: float64 array (D, C), the weights.
    - X: float64 array (N, D), a minibatch.
    - y: int64 array (N,), labels in [0, C).
    - reg: float, L2 strength: the loss adds reg * sum(W * W).

    Returns a tuple of:
    - loss: float, mean cross-entropy over the N rows plus reg * sum(W * W).
    - dW: float64 array (D, C), the gradient of loss with respect to W.
    """
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = float(-np.mean(np.log(probs[np.arange(n), y])) + reg * np.sum(W * W))
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    dW = X.T @ dscores / n + 2 * reg * W
    return loss, dW


def accuracy(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose argmax score X @ W is the label y (given code)."""
    return float(np.mean(np.argmax(X @ W, axis=1) == y))


def sgd(w: np.ndarray, dw: np.ndarray, config: Config) -> tuple[np.ndarray, Config]:
    """Vanilla SGD, in place (given code): w -= learning_rate * dw; default rate 1e-2."""
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: Config) -> tuple[np.ndarray, Config]:
    """SGD with momentum, in place (given code): v = momentum * v - learning_rate * dw;
    w += v. Defaults learning_rate 1e-2, momentum 0.9; velocity starts at zeros."""
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    w += v
    config["velocity"] = v
    return w, config


def adam(w: np.ndarray, dw: np.ndarray, config: Config) -> tuple[np.ndarray, Config]:
    """Adam with bias correction, in place (given code). Defaults learning_rate 1e-3, beta1 0.9,
    beta2 0.999, epsilon 1e-8; m and v start at zeros, t at 0 and is incremented before use."""
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config.get("t", 0) + 1
    b1, b2 = config["beta1"], config["beta2"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw * dw
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    w -= config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return w, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}


def train(
    W: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    config: Config,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Minibatch training of the softmax classifier with early stopping on validation accuracy.

    Start from a copy of W (W itself is not modified) and an empty optimizer state (a copy of
    config['optim_config']). For each epoch e = 0, 1, ..., num_epochs - 1:
    1. perm = rng.permutation(N) (rng = np.random.default_rng(config['seed']), made once);
    2. for each minibatch idx = perm[i:i + batch_size], i in range(0, N, batch_size):
       loss, dW = softmax_loss(W, X_train[idx], y_train[idx], reg); record loss; then
       W, optim_config = UPDATE_RULES[update_rule](W, dW, optim_config);
    3. record accuracy(W, X_train, y_train) and accuracy(W, X_val, y_val);
    4. if the validation accuracy is STRICTLY greater than the best so far (the best starts at
       -1, so epoch 0 always improves), store a COPY of W as best_W, and reset the count of
       epochs without improvement; else add one to that count, and stop training once it
       reaches patience (with patience 2, two epochs in a row without improvement stop it).

    Inputs:
    - W: float64 array (D, C), the initial weights.
    - X_train: float64 array (N, D); y_train: int64 array (N,), labels in [0, C).
    - X_val: float64 array (M, D); y_val: int64 array (M,).
    - config: dict with the keys
      - update_rule: 'sgd', 'sgd_momentum' or 'adam'.
      - optim_config: dict of the rule's hyperparameters (not modified).
      - num_epochs: int >= 1, the most epochs to run.
      - batch_size: int >= 1.
      - reg: float, L2 strength passed to softmax_loss.
      - patience: int >= 1, epochs without improvement of the validation accuracy that stop.
      - seed: int, the seed of the permutations.

    Returns a tuple of:
    - best_W: float64 array (D, C), the weights after the epoch with the best validation
      accuracy (the first such epoch on ties).
    - history: dict with
      - loss_history: float64 array (number of minibatches run,), every minibatch's loss;
      - train_acc_history, val_acc_history: float64 arrays (epochs run,);
      - best_val_acc: float, the best validation accuracy;
      - best_epoch: int, the epoch (0-based) of best_W.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("train: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def ensemble_predict(scores: np.ndarray) -> np.ndarray:
    """Class probabilities of an ensemble: the mean of the models' softmax probabilities.

    Inputs:
    - scores: float64 array (M, N, C), the scores (logits) of M models for the same N rows.

    Returns:
    - probs: float64 array (N, C), (1 / M) * sum over m of softmax(scores[m]) row-wise; every
      row sums to 1. (The softmax of the mean logits is another predictor, not this one.)
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("ensemble_predict: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def polyak_average(checkpoints: np.ndarray, decay: float) -> np.ndarray:
    """Polyak (exponential moving) average of the checkpoints of one model.

    avg = checkpoints[0]; then for t = 1, ..., T - 1: avg = decay * avg + (1 - decay) *
    checkpoints[t]. So decay near 1 averages over many checkpoints, decay 0 returns the last.

    Inputs:
    - checkpoints: float64 array (T, *shape), T >= 1 checkpoints in training order.
    - decay: float in [0, 1), the weight of the running average.

    Returns:
    - avg: float64 array (*shape), the running average after the last checkpoint.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("polyak_average: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def newton_step(w: np.ndarray, grad: np.ndarray, H: np.ndarray) -> np.ndarray:
    """One Newton step: w_new = w - H^{-1} @ grad, computed as w - np.linalg.solve(H, grad).

    H^{-1} multiplies grad from the LEFT. For a symmetric H that is the same as grad @ H^{-1};
    this function is also a Newton step for root finding, where H is the Jacobian of the map
    whose root is sought (any invertible matrix, not symmetric in general), and there
    grad @ inv(H) (that is inv(H).T @ grad) is wrong. On a quadratic 0.5 w'Aw - b'w (H = A,
    grad = A @ w - b) one step from any w lands on the minimiser solve(A, b).

    Inputs:
    - w: float64 array (D,), the current parameters.
    - grad: float64 array (D,), the gradient (or the map's value) at w.
    - H: float64 array (D, D), invertible, the Hessian (or the Jacobian) at w.

    Returns:
    - w_new: float64 array (D,).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("newton_step: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def bfgs_update(H_inv: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The BFGS update of an inverse-Hessian approximation.

    With rho = 1 / (y @ s) and I the identity:
    H_new = (I - rho * s y^T) @ H_inv @ (I - rho * y s^T) + rho * s s^T.
    H_new is symmetric, positive definite when H_inv is and y @ s > 0, and satisfies the secant
    condition H_new @ y = s.

    Inputs:
    - H_inv: float64 array (D, D), symmetric positive definite, the current approximation.
    - s: float64 array (D,), the step w_new - w.
    - y: float64 array (D,), the gradient change grad_new - grad, with y @ s > 0.

    Returns:
    - H_new: float64 array (D, D), the new approximation (H_inv is not modified).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("bfgs_update: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****

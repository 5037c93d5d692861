"""The losses checks catch realistic bugs: each mutant of solutions/losses.py loses points on the
function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

MEAN_OVER_N = "    loss /= num_train\n    dW /= num_train\n"
MEAN_OVER_C = "    loss /= num_classes\n    dW /= num_classes\n"
DIVIDE_BY_C = "dividing by the number of classes C instead of the batch size N"

MUTANTS = [
    Mutant(
        "losses",
        "svm_loss_vectorized",
        "    margins[rows, y] = 0.0\n",
        "",
        "correct-class margin counted",
    ),
    Mutant(
        "losses",
        "svm_loss_vectorized",
        "dW = X.T.dot(coeff) / num_train + 2 * reg * W",
        "dW = X.T.dot(coeff) / num_train + 2 * reg * W * num_train",
        "regularisation gradient added once per example",
    ),
    Mutant(
        "losses",
        "softmax_loss_vectorized",
        "loss = -np.sum(log_probs[rows, y]) / num_train + reg * np.sum(W * W)",
        "loss = -np.sum(log_probs[rows, y]) / num_train",
        "regularisation missing from the loss",
    ),
    Mutant(
        "losses",
        "softmax_loss_vectorized",
        "    shifted = scores - np.max(scores, axis=1, keepdims=True)\n",
        "    shifted = scores\n",
        "no max-shift before exp",
    ),
    Mutant(
        "losses",
        "softmax_loss_vectorized",
        "loss = -np.sum(log_probs[rows, y]) / num_train + reg",
        "loss = -np.sum(log_probs[rows, y]) / W.shape[1] + reg",
        None,
    ),
    Mutant("losses", "svm_loss_naive", MEAN_OVER_N, MEAN_OVER_C, DIVIDE_BY_C),
    Mutant("losses", "softmax_loss_naive", MEAN_OVER_N, MEAN_OVER_C, DIVIDE_BY_C),
    Mutant("losses", "svm_loss_naive", "dW[:, y[i]] -= X[i]", "dW[:, y[i]] += X[i]"),
    Mutant("losses", "softmax_loss", "    dx /= num_train\n", ""),
    Mutant("losses", "l1_regularization", "dW = reg * np.sign(W)", "dW = reg * W"),
    Mutant("losses", "l2_regularization", "dW = 2 * reg * W", "dW = reg * W"),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant)

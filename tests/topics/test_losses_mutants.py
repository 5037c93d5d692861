"""The losses checks catch realistic bugs: each mutant of solutions/losses.py loses points on the
function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught, grade_mutant

from grader.topics.losses import GLOBAL_SHIFT, L1_AT_ZERO, ZERO_MARGIN

MEAN_OVER_N = "    loss /= num_train\n    dW /= num_train\n"
MEAN_OVER_C = "    loss /= num_classes\n    dW /= num_classes\n"
DIVIDE_BY_C = "dividing by the number of classes C instead of the batch size N"
SUM_NOT_MEAN = "sum where the mean was asked (loss N times too large)"
REG_GRAD_WITHOUT_2 = "regularisation gradient reg*W instead of 2*reg*W"
WRONG_AXIS = "softmax normalised over the wrong axis"
# softmax_loss's mean over N, in loss and dx: the mutant keeps the sums
SOFTMAX_LOSS_MEAN = (
    "    loss = -np.sum(log_probs[rows, y]) / num_train\n\n"
    "    dx = np.exp(log_probs)\n"
    "    dx[rows, y] -= 1.0\n"
    "    dx /= num_train\n"
)
SOFTMAX_LOSS_SUM = SOFTMAX_LOSS_MEAN.replace(" / num_train", "").replace(
    "    dx /= num_train\n", ""
)
# svm_loss_vectorized's mean over N, in loss and dW (not in the regularisation)
SVM_MEAN = (
    "    loss = np.sum(margins) / num_train + reg * np.sum(W * W)\n\n"
    "    # Each active margin adds X[i] to its column and subtracts X[i] from the correct column.\n"
    "    coeff = (margins > 0).astype(scores.dtype)\n"
    "    coeff[rows, y] = -np.sum(coeff, axis=1)\n"
    "    dW = X.T.dot(coeff) / num_train + 2 * reg * W\n"
)
SVM_SUM = SVM_MEAN.replace(" / num_train", "")
NORMALISE_OVER_CLASSES = "np.sum(np.exp(shifted), axis=1, keepdims=True)"
NORMALISE_OVER_BATCH = "np.sum(np.exp(shifted), axis=0, keepdims=True)"
SOFTMAX_OVER_CLASSES = (  # softmax_loss's max-shift and normalisation, both per example
    "    shifted = x - np.max(x, axis=1, keepdims=True)\n"
    "    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"
)
SOFTMAX_OVER_BATCH = SOFTMAX_OVER_CLASSES.replace("axis=1", "axis=0")

MUTANTS = [
    # edges: a margin of exactly 0, one row far below the batch's max
    Mutant("losses", "svm_loss_naive", "if margin > 0:", "if margin >= 0:", ZERO_MARGIN),
    Mutant(
        "losses",
        "softmax_loss_vectorized",
        "np.max(scores, axis=1, keepdims=True)",
        "np.max(scores)",
        GLOBAL_SHIFT,
    ),
    Mutant("losses", "softmax_loss", "np.max(x, axis=1, keepdims=True)", "np.max(x)", GLOBAL_SHIFT),
    # edges: a row spanning +-500 (a shift by the row's minimum overflows), zeros in W for l1
    Mutant("losses", "softmax_loss", "np.max(x, axis=1", "np.min(x, axis=1"),
    Mutant("losses", "softmax_loss_naive", "scores - np.max(scores)", "scores - np.min(scores)"),
    Mutant("losses", "softmax_loss_vectorized", "np.max(scores, axis=1", "np.min(scores, axis=1"),
    Mutant("losses", "l1_regularization", "reg * np.sign(W)", "reg * W / np.abs(W)", L1_AT_ZERO),
    Mutant(
        "losses",
        "l1_regularization",
        "reg * np.sign(W)",
        "reg * np.where(W >= 0, 1.0, -1.0)",
        L1_AT_ZERO,
    ),
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
    Mutant("losses", "l2_regularization", "dW = 2 * reg * W", "dW = reg * W", REG_GRAD_WITHOUT_2),
    Mutant("losses", "svm_loss_naive", MEAN_OVER_N, "", SUM_NOT_MEAN),
    Mutant("losses", "softmax_loss_naive", MEAN_OVER_N, "", SUM_NOT_MEAN),
    Mutant("losses", "softmax_loss", SOFTMAX_LOSS_MEAN, SOFTMAX_LOSS_SUM, SUM_NOT_MEAN),
    Mutant("losses", "svm_loss_vectorized", SVM_MEAN, SVM_SUM, SUM_NOT_MEAN),
    Mutant(
        "losses",
        "svm_loss_vectorized",
        "/ num_train + 2 * reg * W",
        "/ num_train + reg * W",
        REG_GRAD_WITHOUT_2,
    ),
    Mutant(
        "losses", "softmax_loss_naive", "dW += 2 * reg * W", "dW += reg * W", REG_GRAD_WITHOUT_2
    ),
    Mutant(
        "losses",
        "softmax_loss_vectorized",
        NORMALISE_OVER_CLASSES,
        NORMALISE_OVER_BATCH,
        WRONG_AXIS,
    ),
    Mutant("losses", "softmax_loss", NORMALISE_OVER_CLASSES, NORMALISE_OVER_BATCH, WRONG_AXIS),
    Mutant("losses", "softmax_loss", SOFTMAX_OVER_CLASSES, SOFTMAX_OVER_BATCH, WRONG_AXIS),
]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant)


@pytest.mark.parametrize(
    "old, new",
    [(NORMALISE_OVER_CLASSES, NORMALISE_OVER_BATCH), (SOFTMAX_OVER_CLASSES, SOFTMAX_OVER_BATCH)],
    ids=["row max-shift as asked", "max-shift over the batch too"],
)
def test_softmax_over_the_batch_is_named_on_a_whole_batch(course, tmp_path, old, new):
    # with N = 1 both ways of writing the mistake give the same numbers; a batch tells them apart
    results = assert_caught(course, tmp_path, Mutant("losses", "softmax_loss", old, new))
    by_id = {r.check_id: r for r in results}
    assert by_id["losses/softmax_loss: random N=10 C=5"].misconception == WRONG_AXIS


def test_softmax_through_probabilities_earns_the_large_score_cases(course, tmp_path):
    # a correct loss may take log of the probabilities instead of a log-softmax: the cases with
    # large or spread scores keep every label's probability representable, so it loses nothing
    rewrite = Mutant(
        "losses",
        "softmax_loss_vectorized",
        "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))",
        "log_probs = np.log(np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True))",
    )
    results = grade_mutant(course, tmp_path, rewrite)
    mine = [r for r in results if r.function == "softmax_loss_vectorized"]
    assert any("spread from -500 to +500" in r.check_id for r in mine)
    assert all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]

"""The reference losses (solutions/losses.py) agree with PyTorch autograd in float64.

PyTorch counterparts:
- softmax: ``F.cross_entropy`` (mean over N).
- multiclass SVM: ``F.multi_margin_loss`` (p=1, margin=1) averages over the C classes as well
  as over N, so the CS231n hinge loss is ``C * F.multi_margin_loss``. Like ours, its
  subgradient counts a margin only when it is > 0.
- linear classifiers add ``reg * (W * W).sum()``; l1/l2 are written out and differentiated.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    KINK_MARGIN,
    ClassificationBatch,
    classification_batches,
    float_arrays,
    regularization_strengths,
    score_batches,
    small_shapes,
)

LINEAR_SOFTMAX = ["softmax_loss_naive", "softmax_loss_vectorized"]
LINEAR_SVM = ["svm_loss_naive", "svm_loss_vectorized"]


def _torch_linear_loss(batch: ClassificationBatch, data_loss) -> tuple[float, np.ndarray]:
    """Loss and dW by autograd of data_loss(X @ W, y) + reg * sum(W * W)."""
    W = torch.from_numpy(batch.W.copy()).requires_grad_(True)
    X, y = torch.from_numpy(batch.X), torch.from_numpy(batch.y)
    loss = data_loss(X @ W, y) + batch.reg * (W * W).sum()
    loss.backward()
    return loss.item(), W.grad.numpy()


def _hinge(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return scores.shape[1] * F.multi_margin_loss(scores, y, p=1, margin=1.0)


def _check_unmodified(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> None:
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=f"input {name} was modified")


@pytest.mark.parametrize("function", LINEAR_SOFTMAX)
@given(batch=classification_batches())
def test_linear_softmax_matches_cross_entropy(losses_ref, assert_close, function, batch):
    inputs = {"W": batch.W.copy(), "X": batch.X.copy(), "y": batch.y.copy()}
    loss, dW = getattr(losses_ref, function)(batch.W, batch.X, batch.y, batch.reg)
    expected_loss, expected_dW = _torch_linear_loss(batch, F.cross_entropy)
    assert isinstance(loss, float)
    assert_close(loss, expected_loss, what=f"{function} loss")
    assert_close(dW, expected_dW, what=f"{function} dW")
    _check_unmodified(inputs, {"W": batch.W, "X": batch.X, "y": batch.y})


@pytest.mark.parametrize("function", LINEAR_SVM)
@given(batch=classification_batches(hinge_margin=KINK_MARGIN))
def test_linear_svm_matches_multi_margin_loss(losses_ref, assert_close, function, batch):
    inputs = {"W": batch.W.copy(), "X": batch.X.copy(), "y": batch.y.copy()}
    loss, dW = getattr(losses_ref, function)(batch.W, batch.X, batch.y, batch.reg)
    expected_loss, expected_dW = _torch_linear_loss(batch, _hinge)
    assert isinstance(loss, float)
    assert_close(loss, expected_loss, what=f"{function} loss")
    assert_close(dW, expected_dW, what=f"{function} dW")
    _check_unmodified(inputs, {"W": batch.W, "X": batch.X, "y": batch.y})


def _torch_score_loss(x: np.ndarray, y: np.ndarray, data_loss) -> tuple[float, np.ndarray]:
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    loss = data_loss(xt, torch.from_numpy(y))
    loss.backward()
    return loss.item(), xt.grad.numpy()


@pytest.mark.parametrize("shift", [0.0, 1000.0])
@given(scores=score_batches())
def test_softmax_loss_matches_cross_entropy(losses_ref, assert_close, shift, scores):
    # +1000 overflows exp() without the max-shift; the spread stays <= 20, so the loss is finite.
    x, y = scores[0] + shift, scores[1]
    x_before = x.copy()
    loss, dx = losses_ref.softmax_loss(x, y)
    expected_loss, expected_dx = _torch_score_loss(x, y, F.cross_entropy)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert_close(loss, expected_loss, what=f"softmax_loss loss (shift {shift})")
    assert_close(dx, expected_dx, what=f"softmax_loss dx (shift {shift})")
    np.testing.assert_array_equal(x, x_before)


@given(scores=score_batches(hinge_margin=KINK_MARGIN))
def test_svm_loss_is_num_classes_times_multi_margin_loss(losses_ref, assert_close, scores):
    x, y = scores
    x_before = x.copy()
    loss, dx = losses_ref.svm_loss(x, y)
    expected_loss, expected_dx = _torch_score_loss(x, y, _hinge)
    assert isinstance(loss, float)
    assert_close(loss, expected_loss, what="svm_loss loss")
    assert_close(dx, expected_dx, what="svm_loss dx")
    np.testing.assert_array_equal(x, x_before)


def test_svm_correct_class_contributes_no_margin(losses_ref):
    # All scores equal: each of the C - 1 wrong classes has margin exactly 1, the correct one 0.
    x, y = np.zeros((4, 3)), np.array([0, 1, 2, 0])
    loss, _ = losses_ref.svm_loss(x, y)
    assert loss == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
@given(W=float_arrays(small_shapes()), reg=regularization_strengths())
def test_regularization_matches_autograd(losses_ref, assert_close, penalty, W, reg):
    W_before = W.copy()
    loss, dW = getattr(losses_ref, f"{penalty}_regularization")(W, reg)
    Wt = torch.from_numpy(W.copy()).requires_grad_(True)
    # torch.abs has gradient sign(W), 0 at W == 0: the subgradient the reference documents.
    expected = reg * (Wt.abs().sum() if penalty == "l1" else (Wt * Wt).sum())
    expected.backward()
    assert isinstance(loss, float)
    assert_close(loss, expected.item(), what=f"{penalty}_regularization loss")
    assert_close(dW, Wt.grad.numpy(), what=f"{penalty}_regularization dW")
    np.testing.assert_array_equal(W, W_before)


@given(batch=classification_batches(hinge_margin=KINK_MARGIN), data=st.data())
def test_naive_and_vectorized_agree(losses_ref, assert_close, batch, data):
    """Both versions give the same loss and dW (X[i] @ W and X @ W may round differently, so
    margins stay away from 0)."""
    kind = data.draw(st.sampled_from(["svm", "softmax"]))
    naive = getattr(losses_ref, f"{kind}_loss_naive")(batch.W, batch.X, batch.y, batch.reg)
    vectorized = getattr(losses_ref, f"{kind}_loss_vectorized")(
        batch.W, batch.X, batch.y, batch.reg
    )
    assert_close(vectorized[0], naive[0], what=f"{kind} loss")
    assert_close(vectorized[1], naive[1], what=f"{kind} dW")

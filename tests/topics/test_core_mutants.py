"""The checks catch realistic bugs: each mutant of a reference solution loses points on the
function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught

from grader.pipeline import grade_topic, sandbox_for

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
    Mutant("losses", "svm_loss_naive", "dW[:, y[i]] -= X[i]", "dW[:, y[i]] += X[i]"),
    Mutant("losses", "softmax_loss", "    dx /= num_train\n", ""),
    Mutant("losses", "l1_regularization", "dW = reg * np.sign(W)", "dW = reg * W"),
    Mutant("losses", "l2_regularization", "dW = 2 * reg * W", "dW = reg * W"),
    Mutant("backprop", "affine_backward", "db = np.sum(dout, axis=0)", "db = np.sum(dout)"),
    Mutant(
        "backprop",
        "relu_backward",
        "dx = dout * (x > 0)",
        "dx = dout.copy()",
        "gradient passed through where x <= 0",
    ),
    Mutant("backprop", "relu_backward", "dx = dout * (x > 0)", "dx = dout * (x >= 0)"),
    Mutant("backprop", "sigmoid_backward", "dx = dout * out * (1 - out)", "dx = dout * out"),
    Mutant("backprop", "tanh_backward", "dx = dout * (1 - out**2)", "dx = dout * (1 - out)"),
    Mutant(
        "backprop", "TwoLayerNet", "0.5 * self.reg", "self.reg", None
    ),  # loss changes but grads not: caught, no single named mistake
    Mutant("backprop", "kaiming_init", "np.sqrt(fan_in)", "np.sqrt(fan_out)"),
]


CALLERS = {  # the reference composes layers: affine_relu and TwoLayerNet call these
    "affine_backward": {"affine_relu_backward", "TwoLayerNet"},
    "relu_backward": {"affine_relu_backward", "TwoLayerNet"},
}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


def test_two_layer_net_with_full_reg_convention_is_named(course, tmp_path):
    source = (course.solutions_dir / "backprop.py").read_text()
    for old, new in [
        ("0.5 * self.reg", "self.reg"),
        ("self.reg * W1", "2 * self.reg * W1"),
        ("self.reg * W2", "2 * self.reg * W2"),
    ]:
        source = source.replace(old, new)
    path = tmp_path / "backprop.py"
    path.write_text(source)
    results, _ = grade_topic(course, "backprop", path, None, sandbox_for(course))
    named = {r.misconception for r in results if not r.passed}
    assert "L2 term reg*sum(W*W) instead of 0.5*reg*sum(W*W)" in named

"""The backprop checks catch realistic bugs: each mutant of solutions/backprop.py loses points on
the function it breaks, and where the bug is a known misconception the feedback names it."""

from __future__ import annotations

import pytest
from mutation import Mutant, assert_caught, grade_mutant

from grader.topics.backprop import AT_ZERO, EVERY_TIE
from grader.topics.backprop.net import NO_ROW_SHIFT

FULL_REG_NAME = "L2 term reg*sum(W*W) instead of 0.5*reg*sum(W*W)"
NET_REG = """reg_loss = 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        loss = float(data_loss + reg_loss)

        grads: dict[str, np.ndarray] = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] = grads["W1"] + self.reg * W1
        grads["W2"] = grads["W2"] + self.reg * W2
"""
# the linear classifiers' convention in the net: reg * sum(W * W), gradient 2 * reg * W
FULL_REG = Mutant(
    "backprop",
    "TwoLayerNet",
    NET_REG,
    NET_REG.replace("0.5 * self.reg", "self.reg")
    .replace("self.reg * W1\n", "2 * self.reg * W1\n")
    .replace("self.reg * W2\n", "2 * self.reg * W2\n"),
    FULL_REG_NAME,
)
ROW_MAX = "np.max(scores, axis=1, keepdims=True)"
NET_SHIFT = f"shifted = scores - {ROW_MAX}\n"
# every parameter regularised, the biases too (a loop over self.params)
BIASES_REGULARISED = NET_REG.replace(
    "0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
    "0.5 * self.reg * sum(np.sum(p * p) for p in self.params.values())",
).replace(
    '        grads["W1"] = grads["W1"] + self.reg * W1\n'
    '        grads["W2"] = grads["W2"] + self.reg * W2\n',
    "        for key, p in self.params.items():\n"
    "            grads[key] = grads[key] + self.reg * p\n",
)
MAXOUT_SCATTER = "np.put_along_axis(dz, argmax[:, :, np.newaxis], dout[:, :, np.newaxis], axis=2)"

MAXOUT_ROUTE = (
    "    np.put_along_axis(dz, argmax[:, :, np.newaxis], dout[:, :, np.newaxis], axis=2)\n"
)
MAXOUT_MASK = (  # every tied piece: the mask z == max instead of the argmax
    "    z = np.einsum('nd,dmk->nmk', x, w) + b\n"
    "    dz = (z == z.max(axis=2, keepdims=True)) * dout[:, :, np.newaxis]\n"
)
EDGES = [  # the kinks and ties the docstrings fix
    Mutant("backprop", "relu_backward", "dx = dout * (x > 0)", "dx = dout * (x >= 0)", AT_ZERO),
    Mutant(
        "backprop",
        "leaky_relu_backward",
        "np.where(x > 0, 1.0, alpha)",
        "np.where(x >= 0, 1.0, alpha)",
        AT_ZERO,
    ),
    Mutant(
        "backprop",
        "elu_backward",
        "np.where(x > 0, 1.0, alpha * np.exp",
        "np.where(x >= 0, 1.0, alpha * np.exp",
        AT_ZERO,
    ),
    Mutant("backprop", "maxout_backward", MAXOUT_ROUTE, MAXOUT_MASK, EVERY_TIE),
]
MUTANTS = EDGES + [
    Mutant("backprop", "affine_backward", "db = np.sum(dout, axis=0)", "db = np.sum(dout)"),
    Mutant(
        "backprop",
        "relu_backward",
        "dx = dout * (x > 0)",
        "dx = dout.copy()",
        "gradient passed through where x <= 0",
    ),
    Mutant(
        "backprop",
        "relu_backward",
        "dx = dout * (x > 0)",
        "dx = dout * (dout > 0)",
        "ReLU mask taken from dout instead of x",
    ),
    Mutant("backprop", "relu_backward", "dx = dout * (x > 0)", "dx = dout * (x >= 0)"),
    Mutant("backprop", "sigmoid_backward", "dx = dout * out * (1 - out)", "dx = dout * out"),
    Mutant(  # s * (1 - s) with s the input x (recovered from the cached output)
        "backprop",
        "sigmoid_backward",
        "dx = dout * out * (1 - out)",
        "x = np.log(out / (1 - out))\n    dx = dout * x * (1 - x)",
        "derivative evaluated at the input instead of the output",
    ),
    Mutant("backprop", "tanh_backward", "dx = dout * (1 - out**2)", "dx = dout * (1 - out)"),
    Mutant(  # 1 - x**2 with x the input (recovered from the cached output)
        "backprop",
        "tanh_backward",
        "dx = dout * (1 - out**2)",
        "dx = dout * (1 - np.arctanh(out) ** 2)",
        "derivative evaluated at the input instead of the output",
    ),
    Mutant(
        "backprop",
        "leaky_relu_backward",
        "dx = dout * np.where(x > 0, 1.0, alpha)",
        "dx = dout * (x > 0)",
        "slope for x <= 0 dropped (plain ReLU gradient)",
    ),
    Mutant(
        "backprop",
        "elu_backward",
        "np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))",
        "np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))",
        "alpha missing from the negative-side gradient",
    ),
    Mutant(
        "backprop",
        "maxout_backward",
        MAXOUT_SCATTER,
        "dz[:] = dout[:, :, np.newaxis]",
        "gradient sent to every piece",
    ),
    Mutant(
        "backprop", "TwoLayerNet", "0.5 * self.reg", "self.reg", None
    ),  # loss changes but grads not: caught, no single named mistake
    FULL_REG,
    Mutant("backprop", "TwoLayerNet", NET_REG, BIASES_REGULARISED, "biases regularised"),
    # edges: large scores (a row spread over +-500, a row near +800)
    Mutant("backprop", "TwoLayerNet", NET_SHIFT, "shifted = scores\n", NO_ROW_SHIFT),
    Mutant(
        "backprop",
        "TwoLayerNet",
        NET_SHIFT,
        NET_SHIFT.replace(ROW_MAX, "np.max(scores)"),
        NO_ROW_SHIFT,
    ),
    Mutant("backprop", "TwoLayerNet", NET_SHIFT, NET_SHIFT.replace("np.max", "np.min")),
    Mutant("backprop", "TwoLayerNet", NET_SHIFT, NET_SHIFT.replace("scores -", "scores +")),
    Mutant("backprop", "kaiming_init", "np.sqrt(fan_in)", "np.sqrt(fan_out)"),
]


CALLERS = {  # the reference composes layers: affine_relu and TwoLayerNet call these
    "affine_backward": {"affine_relu_backward", "TwoLayerNet"},
    "relu_backward": {"affine_relu_backward", "TwoLayerNet"},
}


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m is not FULL_REG], ids=lambda m: m.label)
def test_mutant_is_caught(course, tmp_path, mutant):
    assert_caught(course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


def test_two_layer_net_with_full_reg_convention_is_named(course, tmp_path):
    results = assert_caught(course, tmp_path, FULL_REG)
    named = {r.misconception for r in results if not r.passed}
    assert FULL_REG_NAME in named


def test_two_layer_net_softmax_through_probabilities_earns_the_large_scores(course, tmp_path):
    # a correct loss may take log of the probabilities instead of a log-softmax
    rewrite = Mutant(
        "backprop",
        "TwoLayerNet",
        "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))",
        "log_probs = np.log(np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True))",
    )
    results = grade_mutant(course, tmp_path, rewrite)
    mine = [r for r in results if r.function == "TwoLayerNet"]
    assert any("large scores" in r.check_id for r in mine)
    assert all(r.passed for r in mine), [r.check_id for r in mine if not r.passed]

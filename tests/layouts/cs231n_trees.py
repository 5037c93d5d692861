"""CS231n-shaped fixture trees, written by the tests from the reference solutions' functions.

``write(folder, year)`` lays out assignment1/2/3 trees (``split=True``) or one flat ``cs231n/``
folder as that year's students had them: the Python 2 compatibility imports of 2017-2019, layer
norm and group norm from 2018 only, the dropout ``p`` docstring of the year (drop probability up
to 2018, keep probability after), Adam's starting ``t`` of the year, the starter
``svm_loss_naive`` whose staff code adds ``reg * np.sum(W * W)`` outside the student region
(pinning the L2 convention), the sibling imports of ``fc_net.py`` and ``layer_utils.py``,
FullyConnectedNet with the year's constructor (and, from 2020, TwoLayerNet in assignment1's own
``fc_net.py``), a ``classifiers/__init__.py`` and a ``fast_layers.py`` that import a Cython
module that was never compiled, and notebook clutter. The year-by-year details follow CS231n's
public starter code as far as the project knows it; where unsure, the fixture is a plausible
variant, and the detection does not depend on the year, only on the text.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"

LAYERS = {
    "backprop": ("affine_forward", "affine_backward", "relu_forward", "relu_backward"),
    "dropout": ("dropout_forward", "dropout_backward"),
    "batchnorm": (
        "batchnorm_forward",
        "batchnorm_backward",
        "batchnorm_backward_alt",
        "layernorm_forward",
        "layernorm_backward",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
        "spatial_groupnorm_forward",
        "spatial_groupnorm_backward",
    ),
    "conv": (
        "conv_forward_naive",
        "conv_backward_naive",
        "max_pool_forward_naive",
        "max_pool_backward_naive",
    ),
    "losses": ("svm_loss", "softmax_loss"),
}

NEW_IN_2018 = (
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
)

DROP_DROPOUT = '''
def dropout_forward(x, dropout_param):
    """
    Performs the forward pass for (inverted) dropout.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We drop each neuron output with probability p.
      - mode: 'test' or 'train'.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])
    mask = None
    if mode == 'train':
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)
        out = x * mask
    else:
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param['mode'] == 'train':
        return dout * mask
    return dout
'''

STARTER_SVM_NAIVE = '''
def svm_loss_naive(W, X, y, reg):
    """
    Structured SVM loss function, naive implementation (with loops).

    Inputs have dimension D, there are C classes, and we operate on minibatches
    of N examples.

    Inputs:
    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing a minibatch of data.
    - y: A numpy array of shape (N,) containing training labels.
    - reg: (float) regularization strength

    Returns a tuple of:
    - loss as single float
    - gradient with respect to weights W; an array of same shape as W
    """
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    # compute the loss and the gradient
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]

    # Right now the loss is a sum over all training examples, but we want it
    # to be an average instead so we divide by num_train.
    loss /= num_train

    # Add regularization to the loss.
    loss += reg * np.sum(W * W)

    #############################################################################
    # TODO:                                                                     #
    # Compute the gradient of the loss function and store it dW.                #
    #############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dW /= num_train
    dW += 2 * reg * W

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    return loss, dW
'''

ADAM = '''
def adam(w, dw, config=None):
    """
    Uses the Adam update rule, which incorporates moving averages of both the
    gradient and its square and a bias correction term.

    config format:
    - learning_rate: Scalar learning rate.
    - beta1: Decay rate for moving average of first moment of gradient.
    - beta2: Decay rate for moving average of second moment of gradient.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - m: Moving average of gradient.
    - v: Moving average of squared gradient.
    - t: Iteration number.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", {t})

    next_w = None
    ###########################################################################
    # TODO: Implement the Adam update formula, storing the next value of w in #
    # the next_w variable. Don't forget to update the m, v, and t variables   #
    # stored in config.                                                       #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    m_hat = config["m"] / (1 - config["beta1"] ** config["t"])
    v_hat = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    return next_w, config
'''

FC_NET = '''
class FullyConnectedNet(object):
    """
    A fully-connected neural network with an arbitrary number of hidden layers,
    ReLU nonlinearities, and a softmax loss function. For a network with L layers,
    the architecture will be

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        {options},
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
    ):
        self.use_dropout = {use_dropout}
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        ############################################################################
        # TODO: Initialize the parameters of the network, storing all values in    #
        # the self.params dictionary.                                              #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1])

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Compute loss and gradient for the fully-connected net."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        scores = None
        ############################################################################
        # TODO: Implement the forward pass for the fully-connected net.            #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        caches = []
        h = X
        L = self.num_layers
        for i in range(1, L):
            h, cache = affine_relu_forward(h, self.params["W%d" % i], self.params["b%d" % i])
            caches.append(cache)
        scores, last = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        ############################################################################
        # TODO: Implement the backward pass for the fully-connected net.           #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        loss, dscores = softmax_loss(scores, y)
        dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, last)
        for i in range(L - 1, 0, -1):
            dh, grads["W%d" % i], grads["b%d" % i] = affine_relu_backward(dh, caches[i - 1])
        for i in range(1, L + 1):
            W = self.params["W%d" % i]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads["W%d" % i] += self.reg * W

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        return loss, grads
'''


def fc_net(year: int) -> str:
    """FullyConnectedNet as that year's starter declared it (the dropout argument changed)."""
    if year <= 2017:
        options, use = "dropout=0,\n        use_batchnorm=False", "dropout > 0"
    elif year <= 2019:
        options, use = "dropout=1,\n        normalization=None", "dropout != 1"
    else:
        options, use = (
            "dropout_keep_ratio=1,\n        normalization=None",
            "dropout_keep_ratio != 1",
        )
    return FC_NET.replace("{options}", options).replace("{use_dropout}", use)


KEEP_DOC = "      - p: Dropout parameter. We keep each neuron output with probability p.\n"

UNTOUCHED = '''
def {name}(x, w, b):
    """Starter code, never edited."""
    out = None
    ###########################################################################
    # TODO: Implement the forward pass. Store the result in out.              #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = (x, w, b)
    return out, cache
'''


def functions(topic: str, names: tuple[str, ...] | None = None) -> str:
    """The source of ``names`` (all public ones: None) and every private helper of
    ``solutions/<topic>.py``, with its module-level aliases (``Cache = ...``)."""
    text = (SOLUTIONS / f"{topic}.py").read_text()
    tree = ast.parse(text)
    parts = []
    for node in tree.body:
        keep = isinstance(node, ast.Assign) or (
            isinstance(node, ast.FunctionDef | ast.ClassDef)
            and (node.name.startswith("_") or names is None or node.name in names)
        )
        if keep:
            parts.append(ast.get_source_segment(text, node))
    return "\n\n\n".join(parts) + "\n"


def header(year: int) -> str:
    lines = ["from __future__ import annotations"]
    if year <= 2019:
        lines += ["from builtins import range", "from builtins import object"]
        lines += ["from past.builtins import xrange"]
    return "\n".join(lines + ["import numpy as np", "from typing import Any", "", ""])


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def layers_text(year: int) -> str:
    body = header(year)
    for topic, names in LAYERS.items():
        if topic == "dropout" and year <= 2018:
            body += DROP_DROPOUT
            continue
        if year <= 2017:  # layer norm and group norm came in 2018
            names = tuple(n for n in names if n not in NEW_IN_2018)
        code = functions(topic, names)
        if topic == "dropout":
            code = code.replace(
                "    - dropout_param: dict with the keys\n", "    Inputs:\n" + KEEP_DOC, 1
            )
        body += code + "\n\n"
    return body


def adam_t(year: int) -> int:
    """Adam's starting ``t`` in the starter code: 1 up to 2017, 0 from 2018 (with the note
    "modify t _before_ using it")."""
    return 1 if year <= 2017 else 0


def write(folder: Path, year: int, split: bool = True) -> Path:
    """A full tree of ``year`` under ``folder``; returns ``folder``."""
    a1 = folder / "assignment1" / "cs231n" if split else folder / "cs231n"
    a2 = folder / "assignment2" / "cs231n" if split else folder / "cs231n"
    a3 = folder / "assignment3" / "cs231n" if split else folder / "cs231n"
    head = header(year)
    write_file(
        a1 / "classifiers" / "linear_svm.py",
        head + STARTER_SVM_NAIVE + "\n\n" + functions("losses", ("svm_loss_vectorized",)),
    )
    write_file(
        a1 / "classifiers" / "softmax.py",
        head + functions("losses", ("softmax_loss_naive", "softmax_loss_vectorized")),
    )
    write_file(a1 / "classifiers" / "__init__.py", "from cs231n.classifiers.linear_svm import *\n")
    write_file(a2 / "layers.py", layers_text(year))
    optim = functions("optimizers", ("sgd", "sgd_momentum", "rmsprop"))
    write_file(a2 / "optim.py", head + optim + ADAM.replace("{t}", str(adam_t(year))))
    write_file(
        a2 / "layer_utils.py",
        head
        + "from cs231n.layers import *\nfrom cs231n.fast_layers import *\n\n\n"
        + functions("backprop", ("affine_relu_forward", "affine_relu_backward")),
    )
    write_file(
        a2 / "fast_layers.py",
        head + "try:\n    from cs231n.im2col_cython import col2im_cython, im2col_cython\n"
        "except ImportError:\n    print('run the following from the cs231n directory')\n",
    )
    write_file(
        a2 / "classifiers" / "__init__.py",
        "from cs231n.classifiers.fc_net import *\nfrom cs231n.im2col_cython import im2col_cython\n",
    )
    imports = "from cs231n.layers import *\nfrom ..layer_utils import *\n\n\n"
    two_layer = functions("backprop", ("TwoLayerNet",))
    if split and year >= 2020:  # TwoLayerNet in assignment1, with the layers it needs
        a1_layers = header(year) + functions("backprop", LAYERS["backprop"]) + "\n\n"
        write_file(a1 / "layers.py", a1_layers + functions("losses", LAYERS["losses"]))
        utils = functions("backprop", ("affine_relu_forward", "affine_relu_backward"))
        write_file(a1 / "layer_utils.py", head + "from .layers import *\n\n\n" + utils)
        write_file(a1 / "classifiers" / "fc_net.py", head + imports + two_layer)
        write_file(a2 / "classifiers" / "fc_net.py", head + imports + fc_net(year))
    else:
        write_file(a2 / "classifiers" / "fc_net.py", head + imports + two_layer + fc_net(year))
    write_file(a3 / "rnn_layers.py", head + functions("rnn"))
    write_file(a2 / ".ipynb_checkpoints" / "layers-checkpoint.py", "this is not python(\n")
    write_file(a2 / "__pycache__" / "layers.cpython-37.pyc", "\x00binary")
    return folder

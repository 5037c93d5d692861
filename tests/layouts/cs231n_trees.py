"""CS231n-shaped fixture trees, written by the tests from the reference solutions' functions.

``write(folder, year)`` lays out assignment1/2/3 trees (``split=True``) or one flat ``cs231n/``
folder as that year's students had them: the Python 2 compatibility imports of 2017-2019, the
dropout ``p`` docstring of the year (drop probability up to 2018, keep probability after), the
sibling imports of ``fc_net.py`` and ``layer_utils.py``, a ``classifiers/__init__.py`` and a
``fast_layers.py`` that import a Cython module that was never compiled, and notebook clutter.
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
        code = functions(topic, names)
        if topic == "dropout":
            code = code.replace(
                "    - dropout_param: dict with the keys\n", "    Inputs:\n" + KEEP_DOC, 1
            )
        body += code + "\n\n"
    return body


def write(folder: Path, year: int, split: bool = True) -> Path:
    """A full tree of ``year`` under ``folder``; returns ``folder``."""
    a1 = folder / "assignment1" / "cs231n" if split else folder / "cs231n"
    a2 = folder / "assignment2" / "cs231n" if split else folder / "cs231n"
    a3 = folder / "assignment3" / "cs231n" if split else folder / "cs231n"
    head = header(year)
    write_file(
        a1 / "classifiers" / "linear_svm.py",
        head + functions("losses", ("svm_loss_naive", "svm_loss_vectorized")),
    )
    write_file(
        a1 / "classifiers" / "softmax.py",
        head + functions("losses", ("softmax_loss_naive", "softmax_loss_vectorized")),
    )
    write_file(a1 / "classifiers" / "__init__.py", "from cs231n.classifiers.linear_svm import *\n")
    write_file(a2 / "layers.py", layers_text(year))
    write_file(
        a2 / "optim.py", head + functions("optimizers", ("sgd", "sgd_momentum", "rmsprop", "adam"))
    )
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
    write_file(
        a2 / "classifiers" / "fc_net.py",
        head
        + "from cs231n.layers import *\nfrom ..layer_utils import *\n\n\n"
        + functions("backprop", ("TwoLayerNet",)),
    )
    write_file(a3 / "rnn_layers.py", head + functions("rnn"))
    write_file(a2 / ".ipynb_checkpoints" / "layers-checkpoint.py", "this is not python(\n")
    write_file(a2 / "__pycache__" / "layers.cpython-37.pyc", "\x00binary")
    return folder

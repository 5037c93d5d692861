"""Inverted dropout (CS231n: layers.py).

Conventions:

- ``dropout_param`` is a dict: ``p`` is the probability of KEEPING a unit (CS231n 2018 onward;
  the 2017 assignment used p as the drop probability), ``mode`` 'train' or 'test' (any other
  value raises ValueError), and an optional integer ``seed``.
- Inverted dropout: at train time each unit is kept with probability p and the kept units are
  scaled by 1 / p, so that the expected output equals x; at test time the layer is the
  identity (no scaling).
- The mask is drawn exactly as CS231n does: when ``seed`` is given, ``np.random.seed(seed)``
  first, then ``mask = (np.random.rand(*x.shape) < p) / p`` (uniform draws in x's shape, in C
  order). Only a mask drawn this way equals the reference's mask for a given seed; any mask
  with the right law satisfies every other check.
- The cache keeps CS231n's layout ``(dropout_param, mask)``: mask is the scaled mask
  (values 0 or 1 / p, shape of x) in train mode and None in test mode.
- Outputs have x's dtype; x is not modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def dropout_forward(
    x: np.ndarray, dropout_param: dict[str, Any]
) -> tuple[np.ndarray, tuple[dict[str, Any], np.ndarray | None]]:
    """Forward pass of inverted dropout.

    Inputs:
    - x: float64 array of any shape.
    - dropout_param: dict with the keys
      - p: float in (0, 1], probability of keeping each unit.
      - mode: 'train' (drop and scale by 1 / p) or 'test' (identity); any other mode
        raises ValueError.
      - seed: optional int; when present, np.random.seed(seed) is called before drawing the
        mask, so the same seed gives the same mask.

    Returns a tuple of:
    - out: float64 array of the same shape as x: x * mask in train mode, x in test mode.
    - cache: the tuple (dropout_param, mask); mask has x's shape with values 0 or 1 / p in
      train mode, and is None in test mode.
    """
    # ***** START OF YOUR CODE *****
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    elif mode == "test":
        out = x.copy()
    else:
        raise ValueError(f'invalid dropout mode "{mode}"; expected "train" or "test"')
    out = out.astype(x.dtype, copy=False)
    return out, (dropout_param, mask)
    # ***** END OF YOUR CODE *****


def dropout_backward(
    dout: np.ndarray, cache: tuple[dict[str, Any], np.ndarray | None]
) -> np.ndarray:
    """Backward pass of inverted dropout.

    Inputs:
    - dout: float64 array of any shape, upstream derivative.
    - cache: the tuple (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: float64 array of the same shape as dout: dout * mask in train mode (the same
      scaled mask as the forward pass), dout in test mode.
    """
    # ***** START OF YOUR CODE *****
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout.copy()
    # ***** END OF YOUR CODE *****

"""Convolution and max pooling layers, naive and vectorised (CS231n: layers.py, fast_layers.py).

Conventions shared by every function in this module:

- Images are laid out (N, C, H, W): N examples, C channels, height H, width W. Filters are
  laid out (F, C, HH, WW): F filters, each spanning all C channels with height HH, width WW.
- "Convolution" is cross-correlation, as in CS231n and torch.nn.functional.conv2d: the filter is
  NOT flipped, out[n, f, i, j] = sum over c, a, e of
  xpad[n, c, i*stride + a, j*stride + e] * w[f, c, a, e] + b[f].
- conv_param = {'stride': int >= 1, 'pad': int >= 0}. Zero padding is symmetric and applies to
  the two spatial axes only (H and W; never N or C): xpad has shape (N, C, H + 2*pad, W + 2*pad).
- Output sizes round down: H' = 1 + (H + 2*pad - HH) // stride, W' = 1 + (W + 2*pad - WW) // stride.
  Rows and columns that no window reaches (when the division is not exact) get a zero gradient.
- pool_param = {'pool_height': int, 'pool_width': int, 'stride': int}; max pooling has no padding
  and the same round-down output size. The gradient of a max goes to the position of the maximum
  only; with ties, the first maximum in row-major order within the window (np.argmax) gets it.
  Overlapping windows (stride < pool size) add up their gradients.
- Caches keep CS231n's layouts: conv (x, w, b, conv_param), max pool (x, pool_param).
  conv_forward_fast keeps one extra item after those four (see its docstring).
- Outputs have float64 dtype for float64 inputs; no function modifies its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of a convolutional layer, with explicit loops.

    Inputs:
    - x: float64 array of shape (N, C, H, W), the input images.
    - w: float64 array of shape (F, C, HH, WW), the filters.
    - b: float64 array of shape (F,), one bias per filter.
    - conv_param: dict with 'stride' (step between windows, both directions) and 'pad' (zeros
      added on each side of H and W only).

    Returns a tuple of:
    - out: float64 array of shape (N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride and
      W' = 1 + (W + 2*pad - WW) // stride; cross-correlation (the filter is not flipped).
    - cache: the tuple (x, w, b, conv_param).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("conv_forward_naive: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def conv_backward_naive(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a convolutional layer, with explicit loops.

    Inputs:
    - dout: float64 array of shape (N, F, H', W'), upstream derivative.
    - cache: the tuple (x, w, b, conv_param) from conv_forward_naive.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W), gradient with respect to x (the padding's share
      is dropped; rows and columns that no window reaches get 0).
    - dw: float64 array of shape (F, C, HH, WW), gradient with respect to w.
    - db: float64 array of shape (F,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("conv_backward_naive: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def max_pool_forward_naive(
    x: np.ndarray, pool_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of a max-pooling layer (no padding).

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - pool_param: dict with 'pool_height', 'pool_width' (window size) and 'stride'.

    Returns a tuple of:
    - out: float64 array of shape (N, C, H', W') with H' = 1 + (H - pool_height) // stride and
      W' = 1 + (W - pool_width) // stride; the maximum of each window, channel by channel.
    - cache: the tuple (x, pool_param).
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("max_pool_forward_naive: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def max_pool_backward_naive(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    """Backward pass of a max-pooling layer.

    Inputs:
    - dout: float64 array of shape (N, C, H', W'), upstream derivative.
    - cache: the tuple (x, pool_param) from max_pool_forward_naive.

    Returns:
    - dx: float64 array of shape (N, C, H, W): each dout[n, c, i, j] goes to the position of the
      maximum of its window only (the first one, np.argmax order, on ties); overlapping windows
      add up.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("max_pool_backward_naive: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward pass of a convolutional layer, vectorised (im2col + matrix products).

    Same inputs, output and conventions as conv_forward_naive; no Python loop over examples,
    filters or pixels. The windows are read with np.lib.stride_tricks.sliding_window_view (a
    view, no copy) and gathered into one im2col matrix per example, shape (C*HH*WW, H'*W'),
    so that the product with the (F, C*HH*WW) filter matrix lands in the output's layout.

    Inputs:
    - x: float64 array of shape (N, C, H, W).
    - w: float64 array of shape (F, C, HH, WW).
    - b: float64 array of shape (F,).
    - conv_param: dict with 'stride' and 'pad', as for conv_forward_naive.

    Returns a tuple of:
    - out: float64 array of shape (N, F, H', W'), equal to conv_forward_naive's.
    - cache: the tuple (x, w, b, conv_param, cols): CS231n's four items, then the im2col
      matrices cols of shape (N, C*HH*WW, H'*W') (cols[n, :, i*W' + j] holds the window of
      out[n, :, i, j]), kept so that the backward pass need not gather the windows again.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("conv_forward_fast: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****


def conv_backward_fast(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a convolutional layer, vectorised.

    dw and the gradient of the im2col matrices are matrix products (one per example, summed
    over examples for dw); dx is assembled (col2im) by a loop over the HH*WW kernel offsets,
    each adding a strided slice of the padded gradient, never by a loop over pixels.

    Inputs:
    - dout: float64 array of shape (N, F, H', W'), upstream derivative.
    - cache: the tuple (x, w, b, conv_param, cols) from conv_forward_fast.

    Returns a tuple of:
    - dx: float64 array of shape (N, C, H, W), gradient with respect to x.
    - dw: float64 array of shape (F, C, HH, WW), gradient with respect to w.
    - db: float64 array of shape (F,), gradient with respect to b.
    """
    # ***** START OF YOUR CODE *****
    raise NotImplementedError("conv_backward_fast: your code here (see the docstring)")
    # ***** END OF YOUR CODE *****

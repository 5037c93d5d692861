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
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x_pad[n, :, hs : hs + HH, ws : ws + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
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
    x, w, b, conv_param = cache[:4]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dw[f] += x_pad[n, :, hs : hs + HH, ws : ws + WW] * g
                    dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f] * g
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
    return dx, dw, db
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
    N, C, H, W = x.shape
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = 1 + (H - PH) // stride
    W_out = 1 + (W - PW) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            out[:, :, i, j] = np.max(x[:, :, hs : hs + PH, ws : ws + PW], axis=(2, 3))
    cache = (x, pool_param)
    return out, cache
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
    x, pool_param = cache
    N, C, H, W = x.shape
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            window = x[:, :, hs : hs + PH, ws : ws + PW].reshape(N, C, PH * PW)
            a, e = np.unravel_index(np.argmax(window, axis=2), (PH, PW))
            dx[n_idx, c_idx, hs + a, ws + e] += dout[:, :, i, j]
    return dx
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
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(x_pad, (HH, WW), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :H_out, :W_out]  # (N, C, H', W', HH, WW)
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * HH * WW, H_out * W_out)
    out = w.reshape(F, -1) @ cols + b[:, None]  # one product per example: (N, F, H'*W')
    out = out.reshape(N, F, H_out, W_out)
    cache = (x, w, b, conv_param, cols)
    return out, cache
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
    x, w, b, conv_param, cols = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    d = dout.reshape(N, F, H_out * W_out)
    db = np.sum(d, axis=(0, 2))
    dw = np.sum(d @ cols.transpose(0, 2, 1), axis=0).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ d).reshape(N, C, HH, WW, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    for a in range(HH):
        for e in range(WW):
            rows = slice(a, a + stride * H_out, stride)
            columns = slice(e, e + stride * W_out, stride)
            dx_pad[:, :, rows, columns] += dcols[:, :, a, e]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
    return dx, dw, db
    # ***** END OF YOUR CODE *****

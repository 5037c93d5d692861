"""Known mistakes of topic ``conv``: judge-side models of each, and the hint to give.

Each variant gets the trusted reference module and the inputs of the check that failed
(``(x, w, b, conv_param)`` for a conv forward, ``(dout, *forward inputs)`` for a backward) and
returns what the mistaken code returns.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grader.checks.base import Misconception

FLIPPED_KERNEL = "kernel flipped (true convolution instead of cross-correlation)"
WRONG_PAD_AXES = "zero padding applied to the wrong axes"
STRIDE_IGNORED = "stride ignored in the backward pass"
FLIPPED_IN_BACKWARD = "kernel flipped in the backward pass (dx)"
POOL_GRADIENT_EVERYWHERE = "max-pool gradient sent to every position of the window"

PAD_HINT = (
    "pad only the two spatial axes: np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))); "
    "np.pad(x, pad) pads all four axes (N and C too)"
)


def _flipped_kernel(
    ref: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple:
    return ref.conv_forward_fast(x, w[:, :, ::-1, ::-1].copy(), b, conv_param)


def _pad_height_only(
    ref: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple:
    pad = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)))
    return ref.conv_forward_fast(x_pad, w, b, {**conv_param, "pad": 0})


def _pad_width_only(
    ref: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple:
    pad = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (0, 0), (pad, pad)))
    return ref.conv_forward_fast(x_pad, w, b, {**conv_param, "pad": 0})


def _stride_ignored(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    conv_param: dict,
) -> tuple:
    """Windows of the backward pass taken at (i, j) instead of (i*stride, j*stride)."""
    return ref.conv_backward_naive(dout, (x, w, b, {**conv_param, "stride": 1}))


def _flipped_in_backward(
    ref: ModuleType,
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    conv_param: dict,
) -> tuple:
    """dx computed with w[:, :, ::-1, ::-1] (a half-remembered "the gradient of a convolution
    is a convolution with the flipped kernel", applied to window-wise code)."""
    return ref.conv_backward_naive(dout, (x, w[:, :, ::-1, ::-1].copy(), b, conv_param))


def _pool_gradient_everywhere(
    ref: ModuleType, dout: np.ndarray, x: np.ndarray, pool_param: dict
) -> np.ndarray:
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            dx[:, :, hs : hs + ph, ws : ws + pw] += dout[:, :, i, j][:, :, None, None]
    return dx


def _for_forwards(name: str, hint: str, variant: Callable[..., Any]) -> list[Misconception]:
    return [
        Misconception(fn, name, hint, variant) for fn in ("conv_forward_naive", "conv_forward_fast")
    ]


STALE_BY_SHAPE = "parameters or results cached by the input's shape (stale for new ones)"


def _named_by_calling_again(ref: ModuleType, *args: object) -> np.ndarray:
    """One call cannot show a stale cache: ``CalledAgain`` names it from two calls."""
    raise NotImplementedError("named by 'same shapes again'")


POOL_EVERY_TIE = "every tied maximum of a window gets the gradient (mask window == max)"


def _pool_every_tie(ref: ModuleType, dout: np.ndarray, x: np.ndarray, param: dict) -> np.ndarray:
    PH, PW, stride = param["pool_height"], param["pool_width"], param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            window = x[:, :, hs : hs + PH, ws : ws + PW]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, hs : hs + PH, ws : ws + PW] += mask * dout[:, :, i, j][:, :, None, None]
    return dx


MISCONCEPTIONS = (
    *(
        Misconception(
            fn,
            STALE_BY_SHAPE,
            "a cache keyed by x.shape returns what an earlier call computed: key it by "
            "everything the result depends on (stride, pad and the filter shape too), or "
            "recompute",
            _named_by_calling_again,
        )
        for fn in ("conv_forward_naive", "conv_forward_fast")
    ),
    *_for_forwards(
        FLIPPED_KERNEL,
        "CS231n's (and PyTorch's) conv layer is a cross-correlation: multiply each window by "
        "w[f] as it is, without flipping the filter",
        _flipped_kernel,
    ),
    *_for_forwards(WRONG_PAD_AXES, PAD_HINT, _pad_height_only),
    *_for_forwards(WRONG_PAD_AXES, PAD_HINT, _pad_width_only),
    *(
        Misconception(
            fn,
            STRIDE_IGNORED,
            "window (i, j) of the output starts at (i*stride, j*stride) of the padded input in "
            "the backward pass too; route dout[n, f, i, j] back to that window",
            _stride_ignored,
            compare=("dx",),
        )
        for fn in ("conv_backward_naive", "conv_backward_fast")
    ),
    *(
        Misconception(
            fn,
            FLIPPED_IN_BACKWARD,
            "the forward pass multiplies each window by w[f] unflipped, so dx adds w[f] * "
            "dout[n, f, i, j] back onto that window, unflipped too",
            _flipped_in_backward,
            compare=("dx",),
        )
        for fn in ("conv_backward_naive", "conv_backward_fast")
    ),
    Misconception(
        "max_pool_backward_naive",
        POOL_EVERY_TIE,
        "give dout to the first maximum of the window only (np.argmax of the flattened "
        "window), as the docstring's tie policy says; a mask window == max sends it to every "
        "tied maximum",
        _pool_every_tie,
    ),
    Misconception(
        "max_pool_backward_naive",
        POOL_GRADIENT_EVERYWHERE,
        "only the position of the maximum (np.argmax of the window) receives dout; the "
        "other positions did not affect the output and get 0",
        _pool_gradient_everywhere,
    ),
)

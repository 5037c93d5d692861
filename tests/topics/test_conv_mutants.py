"""The conv checks catch realistic bugs: each mutant of solutions/conv.py loses points on the
function it breaks, and the known mistakes are named in the feedback.

Mutants are graded with one timed speed round instead of the configured number (the speed
checks themselves are tested in tests/checks/test_speed.py), to keep this file quick.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from mutation import Mutant, assert_caught

from grader.checks.base import SpeedSettings
from grader.topics.conv.mistakes import (
    FLIPPED_IN_BACKWARD,
    FLIPPED_KERNEL,
    POOL_EVERY_TIE,
    POOL_GRADIENT_EVERYWHERE,
    STALE_BY_SHAPE,
    STRIDE_IGNORED,
    WRONG_PAD_AXES,
)

PAD_HW = 'np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")'

POOL_ROUTE = (
    "            a, e = np.unravel_index(np.argmax(window, axis=2), (PH, PW))\n"
    "            dx[n_idx, c_idx, hs + a, ws + e] += dout[:, :, i, j]\n"
)
POOL_MASK = (  # every tied maximum: the mask window == max instead of the argmax
    "            mask = window == window.max(axis=2, keepdims=True)\n"
    "            dx[:, :, hs : hs + PH, ws : ws + PW] += (mask * dout[:, :, i, j][:, :, None])"
    ".reshape(N, C, PH, PW)\n"
)
PARAMS = 'stride, pad = conv_param["stride"], conv_param["pad"]'


def _cached_by_shape(fn: str) -> str:  # the parameters of the first call with this x.shape
    return (
        f"stride, pad = {fn}.__dict__.setdefault(\n"
        '        x.shape, (conv_param["stride"], conv_param["pad"])\n'
        "    )"
    )


MUTANTS = [
    Mutant(
        "conv", "conv_forward_fast", PARAMS, _cached_by_shape("conv_forward_fast"), STALE_BY_SHAPE
    ),
    Mutant(
        "conv", "conv_forward_naive", PARAMS, _cached_by_shape("conv_forward_naive"), STALE_BY_SHAPE
    ),
    Mutant("conv", "max_pool_backward_naive", POOL_ROUTE, POOL_MASK, POOL_EVERY_TIE),
    Mutant(
        "conv",
        "conv_forward_naive",
        "np.sum(window * w[f])",
        "np.sum(window * w[f, :, ::-1, ::-1])",
        FLIPPED_KERNEL,
    ),
    Mutant(
        "conv",
        "conv_forward_fast",
        "out = w.reshape(F, -1) @ cols + b[:, None]",
        "out = w[:, :, ::-1, ::-1].reshape(F, -1) @ cols + b[:, None]",
        FLIPPED_KERNEL,
    ),
    Mutant(  # np.pad over all four axes: x's channels no longer match w's (an exception)
        "conv", "conv_forward_naive", PAD_HW, 'np.pad(x, pad, mode="constant")', WRONG_PAD_AXES
    ),
    Mutant(  # only H padded: the window gathering fails or the output is too narrow
        "conv",
        "conv_forward_fast",
        PAD_HW,
        'np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)), mode="constant")',
        WRONG_PAD_AXES,
    ),
    Mutant(
        "conv",
        "conv_backward_naive",
        "hs, ws = i * stride, j * stride",
        "hs, ws = i, j",
        STRIDE_IGNORED,
    ),
    Mutant(
        "conv",
        "conv_backward_fast",
        "rows = slice(a, a + stride * H_out, stride)\n"
        "            columns = slice(e, e + stride * W_out, stride)",
        "rows = slice(a, a + H_out)\n            columns = slice(e, e + W_out)",
        STRIDE_IGNORED,
    ),
    Mutant(
        "conv",
        "max_pool_backward_naive",
        "dx[n_idx, c_idx, hs + a, ws + e] += dout[:, :, i, j]",
        "dx[:, :, hs : hs + PH, ws : ws + PW] += dout[:, :, i, j][:, :, None, None]",
        POOL_GRADIENT_EVERYWHERE,
    ),
    Mutant(  # only H padded, output size taken from the padded array: too narrow an output
        "conv",
        "conv_forward_naive",
        "    H_out = 1 + (H + 2 * pad - HH) // stride\n"
        "    W_out = 1 + (W + 2 * pad - WW) // stride\n"
        f"    x_pad = {PAD_HW}\n",
        '    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)), mode="constant")\n'
        "    H_out = 1 + (x_pad.shape[2] - HH) // stride\n"
        "    W_out = 1 + (x_pad.shape[3] - WW) // stride\n",
        WRONG_PAD_AXES,
    ),
    Mutant(
        "conv",
        "conv_backward_fast",
        "dcols = (w.reshape(F, -1).T @ d)",
        "dcols = (w[:, :, ::-1, ::-1].reshape(F, -1).T @ d)",
        FLIPPED_IN_BACKWARD,
    ),
    Mutant(
        "conv",
        "conv_backward_naive",
        "dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f] * g",
        "dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f, :, ::-1, ::-1] * g",
        FLIPPED_IN_BACKWARD,
    ),
    # unnamed realistic bugs
    Mutant(
        "conv",
        "conv_forward_fast",
        "out = w.reshape(F, -1) @ cols + b[:, None]",
        "out = w.reshape(F, -1) @ cols",
    ),
    Mutant(
        "conv", "conv_forward_naive", "W_out = 1 + (W + 2 * pad - WW)", "W_out = 1 + (W + pad - WW)"
    ),
    Mutant(
        "conv",
        "conv_backward_naive",
        "db = np.sum(dout, axis=(0, 2, 3))",
        "db = np.sum(dout[0], axis=(1, 2))",
    ),
    Mutant(
        "conv",
        "conv_backward_fast",
        "dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()",
        "dx = dx_pad[:, :, : H, : W].copy()",
    ),
    Mutant("conv", "max_pool_forward_naive", "hs, ws = i * stride, j * stride", "hs, ws = i, j"),
    Mutant(
        "conv", "max_pool_backward_naive", "np.argmax(window, axis=2)", "np.argmin(window, axis=2)"
    ),
]

CALLERS = {  # checks of a backward pass run the student's own forward pass first
    "conv_forward_naive": {"conv_backward_naive"},
    "conv_forward_fast": {"conv_backward_fast"},
    "max_pool_forward_naive": {"max_pool_backward_naive"},
}


@pytest.fixture(scope="module")
def quick_course(course):
    topics = dict(course.config.topics)
    # three timed rounds: a median, so that one scheduler blip on a busy machine decides nothing
    speed = SpeedSettings(min_ratio=topics["conv"].speed.min_ratio, repeats=3)
    topics["conv"] = topics["conv"].model_copy(update={"speed": speed})
    return replace(course, config=course.config.model_copy(update={"topics": topics}))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.label)
def test_mutant_is_caught(quick_course, tmp_path, mutant):
    assert_caught(quick_course, tmp_path, mutant, CALLERS.get(mutant.function, ()))


def test_every_named_mistake_has_a_mutant():
    from grader.topics.conv import MISCONCEPTIONS

    named = {m.misconception for m in MUTANTS if m.misconception}
    assert {m.name for m in MISCONCEPTIONS} <= named

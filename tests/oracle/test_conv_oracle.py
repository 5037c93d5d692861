"""The reference conv and max-pool layers (solutions/conv.py) agree with PyTorch in float64.

Forward values and the backward passes (dx, dw, db) of both the naive and the fast convolution
are compared with ``torch.nn.functional.conv2d`` and its autograd gradients, and max pooling with
``F.max_pool2d``, on hypothesis-drawn shapes, strides, pads and kernel sizes (non-square ones
included). Array values come from a drawn seed. Max-pool inputs are distinct values (no ties),
so that both sides route each gradient to the same position.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "conv.py"


@pytest.fixture(scope="session")
def conv_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_conv", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@st.composite
def conv_geometry(draw: st.DrawFn) -> dict[str, int]:
    """N, C, H, W, F, HH, WW, stride, pad with at least one output position."""
    g = {
        "N": draw(st.integers(1, 3)),
        "C": draw(st.integers(1, 3)),
        "F": draw(st.integers(1, 4)),
        "stride": draw(st.integers(1, 3)),
        "pad": draw(st.integers(0, 2)),
        "H": draw(st.integers(1, 9)),
        "W": draw(st.integers(1, 9)),
    }
    g["HH"] = draw(st.integers(1, min(5, g["H"] + 2 * g["pad"])))
    g["WW"] = draw(st.integers(1, min(5, g["W"] + 2 * g["pad"])))
    return g


@st.composite
def pool_geometry(draw: st.DrawFn) -> dict[str, int]:
    g = {
        "N": draw(st.integers(1, 3)),
        "C": draw(st.integers(1, 3)),
        "H": draw(st.integers(1, 9)),
        "W": draw(st.integers(1, 9)),
        "stride": draw(st.integers(1, 3)),
    }
    g["pool_height"] = draw(st.integers(1, g["H"]))
    g["pool_width"] = draw(st.integers(1, g["W"]))
    return g


seeds = st.integers(0, 2**32 - 1)


def _leaf(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).requires_grad_(True)


@pytest.mark.parametrize("kind", ["naive", "fast"])
@given(g=conv_geometry(), seed=seeds)
def test_conv_matches_conv2d(conv_ref, assert_close, kind, g, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g["N"], g["C"], g["H"], g["W"]))
    w = rng.standard_normal((g["F"], g["C"], g["HH"], g["WW"]))
    b = rng.standard_normal(g["F"])
    conv_param = {"stride": g["stride"], "pad": g["pad"]}
    before = [x.copy(), w.copy(), b.copy()]
    out, cache = getattr(conv_ref, f"conv_forward_{kind}")(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = getattr(conv_ref, f"conv_backward_{kind}")(dout, cache)

    xt, wt, bt = _leaf(x), _leaf(w), _leaf(b)
    out_t = F.conv2d(xt, wt, bt, stride=g["stride"], padding=g["pad"])
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what=f"conv_forward_{kind} out")
    assert_close(dx, xt.grad.numpy(), what=f"conv_backward_{kind} dx")
    assert_close(dw, wt.grad.numpy(), what=f"conv_backward_{kind} dw")
    assert_close(db, bt.grad.numpy(), what=f"conv_backward_{kind} db")
    for original, array in zip(before, (x, w, b)):
        np.testing.assert_array_equal(array, original, err_msg=f"conv_{kind} modified an input")


@given(g=pool_geometry(), seed=seeds)
def test_max_pool_matches_max_pool2d(conv_ref, assert_close, g, seed):
    rng = np.random.default_rng(seed)
    shape = (g["N"], g["C"], g["H"], g["W"])
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0  # distinct: no ties
    pool_param = {k: g[k] for k in ("pool_height", "pool_width", "stride")}
    before = x.copy()
    out, cache = conv_ref.max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = conv_ref.max_pool_backward_naive(dout, cache)

    xt = _leaf(x)
    out_t = F.max_pool2d(xt, (g["pool_height"], g["pool_width"]), stride=g["stride"])
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="max_pool_forward_naive out")
    assert_close(dx, xt.grad.numpy(), what="max_pool_backward_naive dx")
    np.testing.assert_array_equal(x, before, err_msg="max pool modified its input")


def test_cache_layouts(conv_ref):
    x, w, b = np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.zeros(3)
    conv_param = {"stride": 1, "pad": 1}
    for kind in ("naive", "fast"):
        _, cache = getattr(conv_ref, f"conv_forward_{kind}")(x, w, b, conv_param)
        assert all(c is a for c, a in zip(cache[:4], (x, w, b, conv_param))), kind
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    _, cache = conv_ref.max_pool_forward_naive(x, pool_param)
    assert cache[0] is x and cache[1] is pool_param and len(cache) == 2


def test_naive_backward_accepts_the_fast_cache(conv_ref):
    """The speed check builds the naive reference's cache with the fast forward."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), np.zeros(4)
    conv_param = {"stride": 2, "pad": 1}
    out, fast_cache = conv_ref.conv_forward_fast(x, w, b, conv_param)
    _, naive_cache = conv_ref.conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    for a, e in zip(
        conv_ref.conv_backward_naive(dout, fast_cache),
        conv_ref.conv_backward_naive(dout, naive_cache),
    ):
        np.testing.assert_array_equal(a, e)

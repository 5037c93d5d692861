"""The reference dropout (solutions/dropout.py) follows PyTorch's inverted dropout in float64.

torch draws its own masks, so masks are not compared. What must agree: ``F.dropout`` with
``p_torch = 1 - p`` (torch's p is the DROP probability, the kit's p the KEEP probability)
scales every kept unit by the same factor as the reference, returns x unchanged in eval mode,
and its autograd gradient is dout times its own mask, as the reference backward is with the
reference's mask.
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
from strategies import float_arrays, floats_away_from, small_shapes

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "dropout.py"
keep_probabilities = st.sampled_from([0.1, 0.25, 0.5, 0.8, 1.0])


@pytest.fixture(scope="module")
def dropout_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_dropout", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scale_of_kept(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    kept = out != 0  # x is away from 0, so a kept unit is never 0
    return out[kept] / x[kept]


@given(
    x=float_arrays(small_shapes(1, 3), elements=floats_away_from(0.0)),
    p=keep_probabilities,
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_dropout_scales_like_torch(dropout_ref, x, p, seed, data):
    out, cache = dropout_ref.dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    torch.manual_seed(seed)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = F.dropout(xt, p=1 - p, training=True)
    dout = data.draw(float_arrays(x.shape), label="dout")
    out_t.backward(torch.from_numpy(dout))
    torch_out = out_t.detach().numpy()

    ours, theirs = _scale_of_kept(out, x), _scale_of_kept(torch_out, x)
    np.testing.assert_allclose(ours, 1 / p, rtol=1e-12, err_msg="reference scale of kept units")
    np.testing.assert_allclose(theirs, 1 / p, rtol=1e-6, err_msg="torch scale of kept units")
    dx = dropout_ref.dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, dout * (out != 0) / p, rtol=1e-12, err_msg="reference dx")
    np.testing.assert_allclose(
        xt.grad.numpy(), dout * (torch_out != 0) / p, rtol=1e-6, err_msg="torch dx"
    )
    if p == 1.0:
        np.testing.assert_array_equal(out, torch_out, err_msg="p = 1 keeps every unit")


@given(x=float_arrays(small_shapes(1, 3)), p=keep_probabilities, data=st.data())
def test_dropout_eval_is_identity_like_torch(dropout_ref, x, p, data):
    out, cache = dropout_ref.dropout_forward(x, {"p": p, "mode": "test"})
    np.testing.assert_array_equal(out, F.dropout(torch.from_numpy(x), 1 - p, training=False))
    dout = data.draw(float_arrays(x.shape), label="dout")
    np.testing.assert_array_equal(dropout_ref.dropout_backward(dout, cache), dout)


def test_same_seed_same_mask_and_cs231n_draw(dropout_ref):
    x = np.arange(1.0, 61.0).reshape(6, 10)
    param = {"p": 0.4, "mode": "train", "seed": 123}
    first, (_, mask) = dropout_ref.dropout_forward(x, dict(param))
    again, _ = dropout_ref.dropout_forward(x, dict(param))
    np.testing.assert_array_equal(first, again)
    expected = (np.random.RandomState(123).rand(6, 10) < 0.4) / 0.4
    np.testing.assert_array_equal(mask, expected)
    other, _ = dropout_ref.dropout_forward(x, {**param, "seed": 124})
    assert not np.array_equal(first != 0, other != 0)

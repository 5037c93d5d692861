"""The reference normalisation layers (solutions/batchnorm.py) agree with PyTorch in float64:
``F.batch_norm`` (train and eval, running statistics, 2-d and spatial 4-d inputs),
``F.layer_norm`` and ``F.group_norm``, values and autograd gradients.

Mapping of the running statistics. CS231n updates
``running = momentum * running + (1 - momentum) * batch`` with the BIASED batch variance; torch
updates ``running = (1 - m_t) * running + m_t * batch`` with the UNBIASED batch variance. So
torch is called with ``m_t = 1 - momentum``; its running mean is then the reference's, and the
reference's running variance is torch's minus ``(1 - momentum) * (unbiased - biased)``, both
batch variances computed by torch (``torch.var(unbiased=True/False)``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import finite_floats, float_arrays

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "batchnorm.py"
sizes = st.integers(min_value=1, max_value=5)
epsilons = st.sampled_from([1e-5, 1e-3, 0.1])
momenta = st.floats(0.0, 0.99)


@pytest.fixture(scope="module")
def bn_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_batchnorm", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaf(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).requires_grad_(True)


def _draw(data: st.DataObject, shape: tuple[int, ...], label: str, bound: float = 3.0):
    return data.draw(float_arrays(shape, elements=finite_floats(bound)), label=label)


def _positive(data: st.DataObject, shape: tuple[int, ...], label: str) -> np.ndarray:
    return data.draw(float_arrays(shape, elements=st.floats(0.1, 3.0)), label=label)


def _grads(assert_close, names, got, leaves, what):
    for name, value, leaf in zip(names, got, leaves):
        assert_close(value, leaf.grad.numpy(), what=f"{what} {name}")


@given(
    N=st.integers(2, 6), D=sizes, eps=epsilons, momentum=momenta, spatial=st.booleans(),
    data=st.data(),
)  # fmt: skip
def test_batchnorm_train_matches_torch(bn_ref, assert_close, N, D, eps, momentum, spatial, data):
    shape = (N, D, data.draw(sizes, label="H"), data.draw(sizes, label="W")) if spatial else (N, D)
    x = _draw(data, shape, "x")
    gamma, beta = _draw(data, (D,), "gamma"), _draw(data, (D,), "beta")
    rm, rv = _draw(data, (D,), "running_mean"), _positive(data, (D,), "running_var")
    before = [a.copy() for a in (x, gamma, beta, rm, rv)]
    bn_param = {
        "mode": "train",
        "eps": eps,
        "momentum": momentum,
        "running_mean": rm,
        "running_var": rv,
    }
    fwd = bn_ref.spatial_batchnorm_forward if spatial else bn_ref.batchnorm_forward
    out, cache = fwd(x, gamma, beta, bn_param)
    dout = _draw(data, out.shape, "dout")

    xt, gt, bt = _leaf(x), _leaf(gamma), _leaf(beta)
    rm_t, rv_t = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    out_t = F.batch_norm(xt, rm_t, rv_t, gt, bt, training=True, momentum=1 - momentum, eps=eps)
    out_t.backward(torch.from_numpy(dout))
    axes = (0, 2, 3) if spatial else (0,)
    with torch.no_grad():
        unbiased = torch.var(xt, dim=axes, unbiased=True).numpy()
        biased = torch.var(xt, dim=axes, unbiased=False).numpy()
    assert_close(out, out_t.detach().numpy(), what="out")
    assert_close(bn_param["running_mean"], rm_t.numpy(), what="running_mean")
    assert_close(
        bn_param["running_var"],
        rv_t.numpy() - (1 - momentum) * (unbiased - biased),
        what="running_var (torch's, with the unbiased batch variance replaced by the biased)",
    )
    if spatial:
        backwards = [bn_ref.spatial_batchnorm_backward]
    else:
        backwards = [bn_ref.batchnorm_backward, bn_ref.batchnorm_backward_alt]
    for backward in backwards:
        _grads(
            assert_close,
            ("dx", "dgamma", "dbeta"),
            backward(dout, cache),
            (xt, gt, bt),
            backward.__name__,
        )
    for original, array in zip(before, (x, gamma, beta, rm, rv)):
        np.testing.assert_array_equal(array, original, err_msg="batchnorm modified an input")


@given(N=sizes, D=sizes, eps=epsilons, spatial=st.booleans(), data=st.data())
def test_batchnorm_test_mode_matches_torch_eval(bn_ref, assert_close, N, D, eps, spatial, data):
    shape = (N, D, data.draw(sizes, label="H"), data.draw(sizes, label="W")) if spatial else (N, D)
    x = _draw(data, shape, "x")
    gamma, beta = _draw(data, (D,), "gamma"), _draw(data, (D,), "beta")
    rm, rv = _draw(data, (D,), "running_mean"), _positive(data, (D,), "running_var")
    bn_param = {"mode": "test", "eps": eps, "running_mean": rm.copy(), "running_var": rv.copy()}
    fwd = bn_ref.spatial_batchnorm_forward if spatial else bn_ref.batchnorm_forward
    out, _ = fwd(x, gamma, beta, bn_param)
    out_t = F.batch_norm(
        torch.from_numpy(x), torch.from_numpy(rm), torch.from_numpy(rv),
        torch.from_numpy(gamma), torch.from_numpy(beta), training=False, eps=eps,
    )  # fmt: skip
    assert_close(out, out_t.numpy(), what="test-mode out")
    np.testing.assert_array_equal(
        bn_param["running_mean"], rm, err_msg="test mode changed running_mean"
    )
    np.testing.assert_array_equal(
        bn_param["running_var"], rv, err_msg="test mode changed running_var"
    )


def test_batchnorm_defaults_match_torch_defaults(bn_ref, assert_close):
    """bn_param = {'mode': 'train'}: eps 1e-5, momentum 0.9 (torch 0.1), running stats zeros."""
    rng = np.random.default_rng(0)
    x, gamma, beta = (
        rng.standard_normal((7, 4)) * 2 + 1,
        rng.standard_normal(4),
        rng.standard_normal(4),
    )
    bn_param = {"mode": "train"}
    out, _ = bn_ref.batchnorm_forward(x, gamma, beta, bn_param)
    rm_t, rv_t = torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    out_t = F.batch_norm(
        torch.from_numpy(x),
        rm_t,
        rv_t,
        torch.from_numpy(gamma),
        torch.from_numpy(beta),
        training=True,
    )
    assert_close(out, out_t.numpy(), what="out with default eps")
    assert_close(bn_param["running_mean"], rm_t.numpy(), what="running_mean from zeros")
    assert_close(bn_param["running_var"], 0.1 * x.var(axis=0), what="running_var from zeros")
    with pytest.raises(ValueError):
        bn_ref.batchnorm_forward(x, gamma, beta, {"mode": "eval"})


@given(N=sizes, D=sizes, eps=epsilons, data=st.data())
def test_layernorm_matches_torch(bn_ref, assert_close, N, D, eps, data):
    x = _draw(data, (N, D), "x")
    gamma, beta = _draw(data, (D,), "gamma"), _draw(data, (D,), "beta")
    out, cache = bn_ref.layernorm_forward(x, gamma, beta, {"eps": eps, "ignored": 1})
    dout = _draw(data, out.shape, "dout")
    xt, gt, bt = _leaf(x), _leaf(gamma), _leaf(beta)
    out_t = F.layer_norm(xt, (D,), gt, bt, eps=eps)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="layernorm out")
    _grads(
        assert_close,
        ("dx", "dgamma", "dbeta"),
        bn_ref.layernorm_backward(dout, cache),
        (xt, gt, bt),
        "layernorm",
    )


@given(
    N=sizes, per_group=st.integers(1, 3), G=st.integers(1, 4), H=sizes, W=sizes, eps=epsilons,
    data=st.data(),
)  # fmt: skip
def test_groupnorm_matches_torch(bn_ref, assert_close, N, per_group, G, H, W, eps, data):
    assume(N * H * W > 1)  # torch's group_norm refuses a single value per channel
    C = G * per_group
    x = _draw(data, (N, C, H, W), "x")
    gamma, beta = _draw(data, (1, C, 1, 1), "gamma"), _draw(data, (1, C, 1, 1), "beta")
    out, cache = bn_ref.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": eps, "mode": "train"})
    dout = _draw(data, out.shape, "dout")
    xt, gt, bt = _leaf(x), _leaf(gamma.reshape(C)), _leaf(beta.reshape(C))
    out_t = F.group_norm(xt, G, gt, bt, eps=eps)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="groupnorm out")
    dx, dgamma, dbeta = bn_ref.spatial_groupnorm_backward(dout, cache)
    assert dgamma.shape == dbeta.shape == (1, C, 1, 1)
    _grads(
        assert_close,
        ("dx", "dgamma", "dbeta"),
        (dx, dgamma.reshape(C), dbeta.reshape(C)),
        (xt, gt, bt),
        "groupnorm",
    )

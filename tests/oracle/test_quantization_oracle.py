"""The reference quantization module (solutions/quantization.py) agrees with PyTorch.

Integer results are compared exactly with ``torch.quantize_per_tensor`` /
``torch.quantize_per_channel`` (``int_repr()``), the observers' scales to float32 precision
(torch computes them in float32, the reference in float64) and their zero points exactly,
``torch.fake_quantize_per_tensor_affine`` and its autograd gradient in float64,
``torch.nn.utils.prune.l1_unstructured``'s masks, the distillation loss built from torch's
``kl_div``/``cross_entropy`` and its autograd gradient, and ``torch.amp.GradScaler``'s scale
trace on CPU. Rounding inputs either sit exactly on k + 0.5 with power-of-two scales (exact in
float32 and float64 alike) or stay 1e-3 away from any tie, where float32 and float64 could
round differently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from conftest import load_solution
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

DTYPES = {"quint8": (torch.quint8, 0, 255), "qint8": (torch.qint8, -128, 127)}
TIE_MARGIN = 1e-3

pytestmark = pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")


@pytest.fixture(scope="module")
def ref():
    return load_solution("quantization")


def _away_from_ties(v: np.ndarray) -> bool:
    return bool(np.all(np.abs(np.abs(v - np.floor(v)) - 0.5) > TIE_MARGIN))


def _float32_arrays(shape, bound: float = 4.0):
    """float64 arrays whose values are exactly representable in float32."""
    elements = st.floats(-bound, bound, width=32, allow_subnormal=False)
    return hnp.arrays(np.float64, shape, elements=elements)


shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
dtypes = st.sampled_from(sorted(DTYPES))


# -- quantize / dequantize ---------------------------------------------------------------------
@given(data=st.data(), dtype=dtypes, shape=shapes)
def test_quantize_matches_quantize_per_tensor(ref, data, dtype, shape):
    tdtype, qmin, qmax = DTYPES[dtype]
    scale = data.draw(st.floats(0.005, 0.2), label="scale")
    zp = data.draw(st.integers(qmin, qmax), label="zero_point")
    x = data.draw(_float32_arrays(shape), label="x")
    assume(_away_from_ties(x / scale) and _away_from_ties(x.astype(np.float32) / np.float32(scale)))
    q = ref.quantize(x, scale, zp, qmin, qmax)
    want = torch.quantize_per_tensor(torch.from_numpy(x).float(), scale, zp, tdtype).int_repr()
    assert q.dtype == np.int64
    np.testing.assert_array_equal(q, want.numpy().astype(np.int64))
    back = ref.dequantize(q, scale, zp)
    want_back = torch.dequantize(
        torch.quantize_per_tensor(torch.from_numpy(x).float(), scale, zp, tdtype)
    )
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, want_back.double().numpy(), rtol=1e-6, atol=1e-7)


@given(k=hnp.arrays(np.int64, shapes, elements=st.integers(-140, 140)), power=st.integers(1, 6))
def test_exact_ties_round_half_to_even_like_torch(ref, k, power):
    scale = 2.0**-power
    x = (k + 0.5) * scale
    q = ref.quantize(x, scale, 0, -128, 127)
    want = torch.quantize_per_tensor(torch.from_numpy(x).float(), scale, 0, torch.qint8)
    np.testing.assert_array_equal(q, want.int_repr().numpy().astype(np.int64))


@given(
    k=hnp.arrays(np.int64, shapes, elements=st.integers(-120, 120)),
    power=st.integers(1, 6),
    zp=st.integers(-7, 7),
)
def test_ties_with_any_zero_point_against_torch(ref, k, power, zp):
    """The kit adds the zero point after rounding; torch 2.13 rounds x / scale + zero_point.
    At an exact .5 tie the two agree for an even zero point and differ by exactly one step for
    an odd one (quantize's docstring states the kit's convention)."""
    scale = 2.0**-power
    x = (k + 0.5) * scale  # every value an exact tie, exactly representable in float32
    q = ref.quantize(x, scale, zp, -128, 127)
    np.testing.assert_array_equal(q, np.rint(k + 0.5).astype(np.int64) + zp)  # round, then add
    got_torch = torch.quantize_per_tensor(torch.from_numpy(x).float(), scale, zp, torch.qint8)
    got_torch = got_torch.int_repr().numpy().astype(np.int64)
    np.testing.assert_array_equal(got_torch, np.rint(k + 0.5 + zp).astype(np.int64))
    if zp % 2 == 0:
        np.testing.assert_array_equal(q, got_torch)
    else:
        assert np.all(np.abs(q - got_torch) == 1)


def test_the_documented_tie_example(ref):
    scale, zp = 0.5, 3
    x = np.array([-100.5 * scale])
    assert ref.quantize(x, scale, zp, -128, 127).tolist() == [-97]
    got_torch = torch.quantize_per_tensor(torch.from_numpy(x).float(), scale, zp, torch.qint8)
    assert got_torch.int_repr().tolist() == [-98]


def test_documented_example(ref):
    scale, zp = ref.choose_qparams(np.array([-1.0, 0.0, 2.0, 3.0]), 0, 255)
    assert zp == 64 and type(zp) is int
    assert math.isclose(scale, 4 / 255, rel_tol=1e-15)
    np.testing.assert_array_equal(
        ref.quantize(np.array([0.5, 1.5, 2.5]), 1.0, 0, 0, 255), [0, 2, 2]
    )


# -- observers ---------------------------------------------------------------------------------
def _observer_agrees(ref, x, observer, qmin, qmax, symmetric):
    observer(torch.from_numpy(x).float())
    t_scale, t_zp = observer.calculate_qparams()
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    assume(hi - lo > 1e-3)
    if not symmetric:
        assume(_away_from_ties(np.array([lo / ((hi - lo) / (qmax - qmin))])))
    scale, zp = ref.choose_qparams(x, qmin, qmax, symmetric)
    assert math.isclose(scale, float(t_scale), rel_tol=1e-6)
    assert zp == int(t_zp) and isinstance(zp, int)


@given(x=_float32_arrays(shapes), dtype=dtypes, symmetric=st.booleans())
def test_choose_qparams_matches_min_max_observer(ref, x, dtype, symmetric):
    tdtype, qmin, qmax = DTYPES[dtype]
    qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    observer = MinMaxObserver(dtype=tdtype, qscheme=qscheme)
    _observer_agrees(ref, x, observer, qmin, qmax, symmetric)


@given(x=_float32_arrays(shapes), bits=st.integers(2, 7))
def test_choose_qparams_custom_range_matches_observer(ref, x, bits):
    observer = MinMaxObserver(dtype=torch.quint8, quant_min=0, quant_max=2**bits - 1)
    _observer_agrees(ref, x, observer, 0, 2**bits - 1, False)


def test_all_zero_input_uses_float32_eps_like_torch(ref):
    observer = MinMaxObserver(dtype=torch.quint8)
    observer(torch.zeros(4))
    t_scale, t_zp = observer.calculate_qparams()
    assert ref.choose_qparams(np.zeros(4), 0, 255) == (float(t_scale), int(t_zp))


@given(
    w=_float32_arrays(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4)),
    data=st.data(),
    dtype=dtypes,
    symmetric=st.booleans(),
)
def test_per_channel_matches_per_channel_observer(ref, w, data, dtype, symmetric):
    tdtype, qmin, qmax = DTYPES[dtype]
    axis = data.draw(st.integers(0, w.ndim - 1), label="axis")
    channels = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    lo = np.minimum(channels.min(axis=1), 0.0)
    hi = np.maximum(channels.max(axis=1), 0.0)
    assume(np.all(hi - lo > 1e-3))
    assume(symmetric or _away_from_ties(lo / ((hi - lo) / (qmax - qmin))))
    qscheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
    observer = PerChannelMinMaxObserver(ch_axis=axis, dtype=tdtype, qscheme=qscheme)
    observer(torch.from_numpy(w).float())
    t_scales, t_zps = observer.calculate_qparams()
    scales, zps = ref.choose_qparams_per_channel(w, axis, qmin, qmax, symmetric)
    assert scales.dtype == np.float64 and zps.dtype == np.int64
    np.testing.assert_allclose(scales, t_scales.double().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(zps, t_zps.numpy().astype(np.int64))

    x = data.draw(_float32_arrays(w.shape), label="x")
    shape = [1] * w.ndim
    shape[axis] = -1
    assume(_away_from_ties(x / scales.reshape(shape)))
    assume(_away_from_ties(x.astype(np.float32) / scales.reshape(shape).astype(np.float32)))
    q = ref.quantize_per_channel(x, scales, zps, axis, qmin, qmax)
    tq = torch.quantize_per_channel(
        torch.from_numpy(x).float(), torch.from_numpy(scales), torch.from_numpy(zps), axis, tdtype
    )
    np.testing.assert_array_equal(q, tq.int_repr().numpy().astype(np.int64))
    back = ref.dequantize_per_channel(q, scales, zps, axis)
    np.testing.assert_allclose(back, torch.dequantize(tq).double().numpy(), rtol=1e-6, atol=1e-6)


# -- fake quantization -------------------------------------------------------------------------
@given(data=st.data(), shape=shapes, bits=st.integers(2, 8))
def test_fake_quantize_and_ste_match_torch(ref, data, shape, bits):
    qmin, qmax = 0, 2**bits - 1
    scale = 2.0 ** -data.draw(st.integers(1, 6), label="log2 1/scale")
    zp = data.draw(st.integers(qmin, qmax), label="zero_point")
    x = data.draw(_float32_arrays(shape, bound=2.0**bits * scale), label="x")
    dout = data.draw(_float32_arrays(shape), label="dout")
    out, cache = ref.fake_quantize_forward(x, scale, zp, qmin, qmax)
    dx = ref.fake_quantize_backward(dout, cache)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = torch.fake_quantize_per_tensor_affine(xt, scale, zp, qmin, qmax)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


# -- pruning -----------------------------------------------------------------------------------
@given(
    w=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
        elements=st.floats(-3, 3, allow_subnormal=False),
        unique=True,
    ),
    sparsity=st.floats(0.0, 1.0),
)
def test_magnitude_prune_matches_l1_unstructured(ref, w, sparsity):
    assume(len(np.unique(np.abs(w))) == w.size)  # ties: torch's topk order is unspecified
    layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    prune.l1_unstructured(layer, "weight", amount=sparsity)
    pruned, mask = ref.magnitude_prune(w, sparsity)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, layer.weight_mask.numpy().astype(bool))
    np.testing.assert_array_equal(pruned, layer.weight.detach().numpy())


# -- distillation ------------------------------------------------------------------------------
@given(
    data=st.data(),
    n=st.integers(1, 6),
    c=st.integers(2, 6),
    T=st.floats(0.5, 10.0),
    alpha=st.floats(0.0, 1.0),
)
def test_distillation_matches_torch(ref, data, n, c, T, alpha):
    s = data.draw(_float32_arrays((n, c), bound=5.0), label="student")
    t = data.draw(_float32_arrays((n, c), bound=5.0), label="teacher")
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)), label="y")
    loss, ds = ref.distillation_loss(s, t, y, T, alpha)
    st_ = torch.from_numpy(s.copy()).requires_grad_(True)
    tt = torch.from_numpy(t)
    soft = F.kl_div(F.log_softmax(st_ / T, dim=1), F.softmax(tt / T, dim=1), reduction="batchmean")
    want = alpha * T * T * soft + (1 - alpha) * F.cross_entropy(st_, torch.from_numpy(y))
    want.backward()
    assert isinstance(loss, float)
    assert math.isclose(loss, want.item(), rel_tol=1e-9, abs_tol=1e-12)
    np.testing.assert_allclose(ds, st_.grad.numpy(), rtol=1e-8, atol=1e-12)


# -- loss scaling ------------------------------------------------------------------------------
@given(
    pattern=st.lists(st.sampled_from(["clean", "inf", "nan"]), min_size=1, max_size=25),
    interval=st.integers(1, 4),
    init=st.sampled_from([2.0**4, 2.0**10, 2.0**16]),
)
def test_loss_scaler_matches_grad_scaler(ref, pattern, interval, init):
    scaler = torch.amp.GradScaler("cpu", init_scale=init, growth_interval=interval)
    param = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimizer = torch.optim.SGD([param], lr=0.1)
    mine = ref.DynamicLossScaler(init_scale=init, growth_interval=interval)
    params = {"w": np.zeros(3)}
    for step in pattern:
        value = {"clean": 1.0, "inf": math.inf, "nan": math.nan}[step]
        grad = np.full(3, value) * mine.scale
        optimizer.zero_grad()
        scaler.scale(param.sum())  # initialises the scaler's state for this step
        param.grad = torch.from_numpy(np.full(3, value) * scaler.get_scale())
        scaler.step(optimizer)
        scaler.update()
        params, stepped = mine.step(params, {"w": grad}, 0.1)
        assert mine.scale == scaler.get_scale()
        assert stepped == (step == "clean")
        np.testing.assert_allclose(params["w"], param.detach().numpy(), rtol=1e-12)


def test_loss_scaler_defaults_match_grad_scaler(ref):
    scaler = torch.amp.GradScaler("cpu")
    mine = ref.DynamicLossScaler()
    assert mine.scale == scaler.get_scale() == 2.0**16
    assert (mine.growth_factor, mine.backoff_factor, mine.growth_interval) == (
        scaler.get_growth_factor(),
        scaler.get_backoff_factor(),
        scaler.get_growth_interval(),
    )


# -- independent re-derivations (no torch counterpart) ------------------------------------------
def _entries_by_walking(mask: np.ndarray, index_bits: int) -> int:
    """Deep Compression's relative indexing, walked position by position."""
    entries, gap = 0, 0
    for kept in mask.reshape(-1):
        gap += 1
        if kept:
            entries += 1
            gap = 0
        elif gap == 2**index_bits:  # the distance no longer fits: store a filler zero
            entries += 1
            gap = 0
    return entries


@given(
    mask=hnp.arrays(bool, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40)),
    bits=st.integers(1, 8),
    index_bits=st.integers(1, 5),
)
def test_compressed_size_matches_a_walk(ref, mask, bits, index_bits):
    entries = _entries_by_walking(mask, index_bits)
    if mask.any():  # fillers after the last kept weight are not stored
        tail = mask.size - 1 - int(np.flatnonzero(mask.reshape(-1))[-1])
        entries -= tail // 2**index_bits
    else:
        entries = 0
    size = ref.compressed_size_bits(mask, bits, index_bits)
    assert type(size) is int
    assert size == entries * (bits + index_bits) + 32 * 2**bits


@given(
    w=hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(-2, 2), unique=True),
    bits=st.integers(1, 4),
    iters=st.integers(0, 6),
)
def test_kmeans_is_lloyd_from_linear_init(ref, w, bits, iters):
    shared, centroids, assignments = ref.kmeans_quantize(w, bits, iters)
    if iters == 0:
        np.testing.assert_array_equal(centroids, np.linspace(w.min(), w.max(), 2**bits))
    nearest = np.argmin(np.abs(w[:, None] - centroids[None, :]), axis=1)
    np.testing.assert_array_equal(assignments, nearest)
    np.testing.assert_array_equal(shared, centroids[assignments])
    errors = [np.sum((ref.kmeans_quantize(w, bits, i)[0] - w) ** 2) for i in range(iters + 1)]
    assert all(b <= a * (1 + 1e-12) + 1e-15 for a, b in zip(errors, errors[1:]))

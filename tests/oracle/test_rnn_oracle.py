"""The reference recurrent layers (solutions/rnn.py) agree with PyTorch in float64.

Weights are (fan_in, fan_out) here and (out, in) in torch, hence the transposes. torch packs
the LSTM gates i, f, g, o where this course packs i, f, o, g, so the o and g blocks are swapped
when weights go to torch and when gradients come back. The course's single bias b is torch's
bias_ih, with bias_hh = 0.
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
from strategies import finite_floats, float_arrays

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "rnn.py"
sizes = st.integers(min_value=1, max_value=4)
small_floats = finite_floats(1.0)


@pytest.fixture(scope="module")
def rnn_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_rnn", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaf(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).requires_grad_(True)


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def swap_og(w: np.ndarray) -> np.ndarray:
    """i, f, o, g <-> i, f, g, o along the last axis (its own inverse)."""
    H = w.shape[-1] // 4
    return np.concatenate([w[..., : 2 * H], w[..., 3 * H :], w[..., 2 * H : 3 * H]], axis=-1)


@st.composite
def recurrent_inputs(draw: st.DrawFn, gates: int, steps: bool) -> dict[str, np.ndarray]:
    """x (N, T, D) (or (N, D) for one step), h0 (N, H), Wx (D, gH), Wh (H, gH), b (gH,)."""
    N, T, D, H = draw(sizes), draw(sizes), draw(sizes), draw(sizes)
    x_shape = (N, D) if steps else (N, T, D)
    return {
        "x": draw(float_arrays(x_shape, small_floats), label="x"),
        "h0": draw(float_arrays((N, H), small_floats), label="h0"),
        "c0": draw(float_arrays((N, H), small_floats), label="c0"),
        "Wx": draw(float_arrays((D, gates * H), small_floats), label="Wx"),
        "Wh": draw(float_arrays((H, gates * H), small_floats), label="Wh"),
        "b": draw(float_arrays((gates * H,), small_floats), label="b"),
    }


def _torch_module(cls, inputs: dict[str, np.ndarray], gates: int, **kwargs) -> torch.nn.Module:
    """An nn.RNN / nn.LSTM / cell holding the course's weights (LSTM blocks permuted)."""
    D, H = inputs["Wx"].shape[0], inputs["Wh"].shape[0]
    module = cls(D, H, dtype=torch.float64, **kwargs)
    to_torch = swap_og if gates == 4 else (lambda w: w)
    suffix = "_l0" if cls in (torch.nn.RNN, torch.nn.LSTM) else ""
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(_t(to_torch(inputs["Wx"]).T))
        getattr(module, f"weight_hh{suffix}").copy_(_t(to_torch(inputs["Wh"]).T))
        getattr(module, f"bias_ih{suffix}").copy_(_t(to_torch(inputs["b"])))
        getattr(module, f"bias_hh{suffix}").zero_()
    return module


def _weight_grads(module: torch.nn.Module, gates: int) -> tuple[np.ndarray, ...]:
    """(dWx, dWh, db) in the course's layout from a torch module's parameter gradients."""
    params = dict(module.named_parameters())
    suffix = "_l0" if "weight_ih_l0" in params else ""
    back = swap_og if gates == 4 else (lambda w: w)
    return (
        back(params[f"weight_ih{suffix}"].grad.numpy().T),
        back(params[f"weight_hh{suffix}"].grad.numpy().T),
        back(params[f"bias_ih{suffix}"].grad.numpy()),
    )


def _check_grads(assert_close, name, got, want, labels) -> None:
    for g, w, label in zip(got, want, labels, strict=True):
        assert_close(g, w, what=f"{name} {label}")


@given(inputs=recurrent_inputs(gates=1, steps=False), data=st.data())
def test_rnn_matches_torch_rnn(rnn_ref, assert_close, inputs, data):
    x, h0, Wx, Wh, b = (inputs[k] for k in ("x", "h0", "Wx", "Wh", "b"))
    h, cache = rnn_ref.rnn_forward(x, h0, Wx, Wh, b)
    dh = data.draw(float_arrays(h.shape), label="dh")
    grads = rnn_ref.rnn_backward(dh, cache)

    rnn = _torch_module(torch.nn.RNN, inputs, 1, nonlinearity="tanh", batch_first=True)
    xt, h0t = _leaf(x), _leaf(h0)
    out, _ = rnn(xt, h0t[None])
    out.backward(_t(dh))
    assert_close(h, out.detach().numpy(), what="rnn_forward h")
    want = (xt.grad.numpy(), h0t.grad.numpy(), *_weight_grads(rnn, 1))
    _check_grads(assert_close, "rnn_backward", grads, want, ("dx", "dh0", "dWx", "dWh", "db"))


@given(inputs=recurrent_inputs(gates=1, steps=True), data=st.data())
def test_rnn_step_matches_torch_rnn_cell(rnn_ref, assert_close, inputs, data):
    x, h0, Wx, Wh, b = (inputs[k] for k in ("x", "h0", "Wx", "Wh", "b"))
    next_h, cache = rnn_ref.rnn_step_forward(x, h0, Wx, Wh, b)
    dnext_h = data.draw(float_arrays(next_h.shape), label="dnext_h")
    grads = rnn_ref.rnn_step_backward(dnext_h, cache)

    cell = _torch_module(torch.nn.RNNCell, inputs, 1, nonlinearity="tanh")
    xt, ht = _leaf(x), _leaf(h0)
    out = cell(xt, ht)
    out.backward(_t(dnext_h))
    assert_close(next_h, out.detach().numpy(), what="rnn_step_forward next_h")
    want = (xt.grad.numpy(), ht.grad.numpy(), *_weight_grads(cell, 1))
    labels = ("dx", "dprev_h", "dWx", "dWh", "db")
    _check_grads(assert_close, "rnn_step_backward", grads, want, labels)


@given(inputs=recurrent_inputs(gates=4, steps=False), data=st.data())
def test_lstm_matches_torch_lstm(rnn_ref, assert_close, inputs, data):
    x, h0, Wx, Wh, b = (inputs[k] for k in ("x", "h0", "Wx", "Wh", "b"))
    h, cache = rnn_ref.lstm_forward(x, h0, Wx, Wh, b)
    dh = data.draw(float_arrays(h.shape), label="dh")
    grads = rnn_ref.lstm_backward(dh, cache)

    lstm = _torch_module(torch.nn.LSTM, inputs, 4, batch_first=True)
    xt, h0t = _leaf(x), _leaf(h0)
    out, _ = lstm(xt, (h0t[None], torch.zeros_like(h0t)[None]))
    out.backward(_t(dh))
    assert_close(h, out.detach().numpy(), what="lstm_forward h")
    want = (xt.grad.numpy(), h0t.grad.numpy(), *_weight_grads(lstm, 4))
    _check_grads(assert_close, "lstm_backward", grads, want, ("dx", "dh0", "dWx", "dWh", "db"))


@given(inputs=recurrent_inputs(gates=4, steps=True), data=st.data())
def test_lstm_step_matches_torch_lstm_cell(rnn_ref, assert_close, inputs, data):
    x, h0, c0, Wx, Wh, b = (inputs[k] for k in ("x", "h0", "c0", "Wx", "Wh", "b"))
    next_h, next_c, cache = rnn_ref.lstm_step_forward(x, h0, c0, Wx, Wh, b)
    dnext_h = data.draw(float_arrays(next_h.shape), label="dnext_h")
    dnext_c = data.draw(float_arrays(next_c.shape), label="dnext_c")
    grads = rnn_ref.lstm_step_backward(dnext_h, dnext_c, cache)

    cell = _torch_module(torch.nn.LSTMCell, inputs, 4)
    xt, ht, ct = _leaf(x), _leaf(h0), _leaf(c0)
    h1, c1 = cell(xt, (ht, ct))
    torch.autograd.backward([h1, c1], [_t(dnext_h), _t(dnext_c)])
    assert_close(next_h, h1.detach().numpy(), what="lstm_step_forward next_h")
    assert_close(next_c, c1.detach().numpy(), what="lstm_step_forward next_c")
    want = (xt.grad.numpy(), ht.grad.numpy(), ct.grad.numpy(), *_weight_grads(cell, 4))
    labels = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    _check_grads(assert_close, "lstm_step_backward", grads, want, labels)


def test_lstm_gate_order_is_not_torchs(rnn_ref):
    """Without the block permutation torch computes something else: the oracle's mapping is
    needed, i.e. the reference really uses i, f, o, g."""
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((4, 20)), rng.standard_normal((5, 20)), rng.standard_normal(20)
    h, _ = rnn_ref.lstm_forward(x, h0, Wx, Wh, b)
    lstm = torch.nn.LSTM(4, 5, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(_t(Wx.T))
        lstm.weight_hh_l0.copy_(_t(Wh.T))
        lstm.bias_ih_l0.copy_(_t(b))
        lstm.bias_hh_l0.zero_()
        unpermuted, _ = lstm(_t(x), (_t(h0)[None], torch.zeros(1, 2, 5, dtype=torch.float64)))
    assert np.max(np.abs(h - unpermuted.numpy())) > 1e-3


@st.composite
def loss_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    N, T, V = draw(sizes), draw(sizes), draw(st.integers(2, 6))
    x = draw(float_arrays((N, T, V), finite_floats(5.0)), label="x")
    y = draw(float_arrays((N, T), st.integers(0, V - 1)).map(lambda a: a.astype(np.int64)))
    mask = draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T), label="mask")
    return x, y, np.array(mask, dtype=bool).reshape(N, T)


@given(inputs=loss_inputs())
def test_temporal_softmax_loss_matches_cross_entropy(rnn_ref, assert_close, inputs):
    x, y, mask = inputs
    before = [a.copy() for a in inputs]
    loss, dx = rnn_ref.temporal_softmax_loss(x, y, mask)
    N, T, V = x.shape
    xt = _leaf(x)
    per_position = F.cross_entropy(xt.reshape(N * T, V), _t(y).reshape(N * T), reduction="none")
    loss_t = (per_position * _t(mask).reshape(N * T)).sum() / N
    loss_t.backward()
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item(), what="temporal_softmax_loss loss")
    assert_close(dx, xt.grad.numpy(), what="temporal_softmax_loss dx")
    for original, array in zip(before, inputs, strict=True):
        np.testing.assert_array_equal(array, original, err_msg="temporal loss modified its input")


def test_temporal_softmax_loss_sums_over_time_and_divides_by_n(rnn_ref):
    """One sequence (N = 1) of two steps: the loss is the sum of the unmasked terms, not their
    mean; masking a step removes its term."""
    x = np.array([[[2.0, 0.0], [0.0, 3.0]]])
    y = np.array([[0, 0]])
    first, second = np.log1p(np.exp(-2.0)), np.log1p(np.exp(3.0))
    both, _ = rnn_ref.temporal_softmax_loss(x, y, np.array([[True, True]]))
    one, dx = rnn_ref.temporal_softmax_loss(x, y, np.array([[True, False]]))
    assert both == pytest.approx(first + second, rel=1e-12)
    assert one == pytest.approx(first, rel=1e-12)
    np.testing.assert_array_equal(dx[0, 1], [0.0, 0.0])


@st.composite
def embedding_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    N, T, V, D = draw(sizes), draw(sizes), draw(st.integers(1, 4)), draw(sizes)
    x = draw(float_arrays((N, T), st.integers(0, V - 1)).map(lambda a: a.astype(np.int64)))
    return x, draw(float_arrays((V, D)), label="W")


@given(inputs=embedding_inputs(), data=st.data())
def test_word_embedding_matches_f_embedding(rnn_ref, assert_close, inputs, data):
    x, W = inputs
    out, cache = rnn_ref.word_embedding_forward(x, W)
    dout = data.draw(float_arrays(out.shape), label="dout")
    dW = rnn_ref.word_embedding_backward(dout, cache)
    Wt = _leaf(W)
    out_t = F.embedding(_t(x), Wt)
    out_t.backward(_t(dout))
    assert_close(out, out_t.detach().numpy(), what="word_embedding_forward out")
    assert_close(dW, Wt.grad.numpy(), what="word_embedding_backward dW")


def test_word_embedding_repeated_index_accumulates(rnn_ref):
    W = np.arange(6.0).reshape(3, 2)
    _, cache = rnn_ref.word_embedding_forward(np.array([[1, 1, 1]]), W)
    dW = rnn_ref.word_embedding_backward(np.ones((1, 3, 2)), cache)
    np.testing.assert_array_equal(dW, [[0.0, 0.0], [3.0, 3.0], [0.0, 0.0]])


@st.composite
def temporal_affine_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    N, T, D, M = draw(sizes), draw(sizes), draw(sizes), draw(sizes)
    return (
        draw(float_arrays((N, T, D)), label="x"),
        draw(float_arrays((D, M)), label="w"),
        draw(float_arrays((M,)), label="b"),
    )


@given(inputs=temporal_affine_inputs(), data=st.data())
def test_temporal_affine_matches_linear(rnn_ref, assert_close, inputs, data):
    x, w, b = inputs
    out, cache = rnn_ref.temporal_affine_forward(x, w, b)
    dout = data.draw(float_arrays(out.shape), label="dout")
    dx, dw, db = rnn_ref.temporal_affine_backward(dout, cache)
    xt, wt, bt = _leaf(x), _leaf(w), _leaf(b)
    out_t = F.linear(xt, wt.T, bt)
    out_t.backward(_t(dout))
    assert_close(out, out_t.detach().numpy(), what="temporal_affine_forward out")
    assert_close(dx, xt.grad.numpy(), what="temporal_affine_backward dx")
    assert_close(dw, wt.grad.numpy(), what="temporal_affine_backward dw")
    assert_close(db, bt.grad.numpy(), what="temporal_affine_backward db")
    assert len(cache) == 4 and cache[3] is out

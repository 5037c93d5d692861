"""The reference PyTorch code (solutions/frameworks.py) against independent oracles.

- TwoLayerTorchNet + load_weights + forward_and_grads against the numpy ``TwoLayerNet`` of
  solutions/backprop.py (reg=0) given the same weights: loss and every gradient, CS231n layout.
- LeakyReLUFunction's backward with ``torch.autograd.gradcheck`` in float64, and
  custom_leaky_relu_grad with autograd through ``F.leaky_relu``.
- One full-batch sgd_train step against a hand-written numpy SGD step (W - lr * dW, gradients
  of the numpy TwoLayerNet).
- loader_batches against ``torch.randperm`` drawn from a generator of the same seed, and
  transfer learning: the frozen extractor is untouched and the head learns the blobs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import load_solution
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import arrays_away_from_kinks, float_arrays


@pytest.fixture(scope="session")
def fw_ref():
    return load_solution("frameworks")


def _weights(data: st.DataObject, D: int, H: int, C: int) -> tuple[np.ndarray, ...]:
    return tuple(
        data.draw(float_arrays(shape), label=name) * 0.5
        for name, shape in (("W1", (D, H)), ("b1", (H,)), ("W2", (H, C)), ("b2", (C,)))
    )


def _numpy_net(backprop_ref, W1, b1, W2, b2):
    net = backprop_ref.TwoLayerNet(W1.shape[0], W1.shape[1], W2.shape[1], reg=0.0)
    net.params = {"W1": W1.copy(), "b1": b1.copy(), "W2": W2.copy(), "b2": b2.copy()}
    return net


dims = st.integers(1, 6)


@settings(max_examples=25, deadline=None)
@given(N=dims, D=dims, H=dims, C=st.integers(2, 5), data=st.data())
def test_torch_net_equals_numpy_two_layer_net(fw_ref, backprop_ref, N, D, H, C, data):
    W1, b1, W2, b2 = _weights(data, D, H, C)
    X = data.draw(float_arrays((N, D)), label="X")
    y = data.draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N).map(np.array))
    pre = X @ W1 + b1
    if np.min(np.abs(pre)) < 1e-6:  # at the ReLU kink either side may pick a subgradient
        return
    net = fw_ref.TwoLayerTorchNet(D, H, C)
    fw_ref.load_weights(net, W1, b1, W2, b2)
    assert all(
        np.array_equal(a, b) for a, b in zip(fw_ref.get_weights(net).values(), (W1, b1, W2, b2))
    )
    loss, grads = fw_ref.forward_and_grads(net, X, y)
    want_loss, want = _numpy_net(backprop_ref, W1, b1, W2, b2).loss(X, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10, atol=1e-12)
    for key in want:
        np.testing.assert_allclose(grads[key], want[key], rtol=1e-8, atol=1e-12)
    scores = _numpy_net(backprop_ref, W1, b1, W2, b2).loss(X)
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(X)).numpy(), scores, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    x=arrays_away_from_kinks(st.sampled_from([(3,), (2, 4), (2, 2, 3)])),
    alpha=st.floats(0.0, 0.9),
    data=st.data(),
)
def test_custom_function_gradcheck_and_autograd(fw_ref, x, alpha, data):
    xt = torch.tensor(x, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fw_ref.LeakyReLUFunction.apply(t, alpha), (xt,))
    dout = data.draw(float_arrays(x.shape), label="dout")
    leaf = torch.tensor(x, requires_grad=True)
    out = F.leaky_relu(leaf, alpha)
    out.backward(torch.tensor(dout))
    np.testing.assert_allclose(fw_ref.custom_leaky_relu_forward(x, alpha), out.detach().numpy())
    np.testing.assert_allclose(fw_ref.custom_leaky_relu_grad(x, dout, alpha), leaf.grad.numpy())


@settings(max_examples=15, deadline=None)
@given(
    N=st.integers(1, 8),
    D=dims,
    H=dims,
    C=st.integers(2, 4),
    lr=st.floats(0.01, 1.0),
    data=st.data(),
)
def test_one_sgd_step_equals_numpy_sgd(fw_ref, backprop_ref, N, D, H, C, lr, data):
    W1, b1, W2, b2 = _weights(data, D, H, C)
    X = data.draw(float_arrays((N, D)), label="X")
    y = data.draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N).map(np.array))
    if np.min(np.abs(X @ W1 + b1)) < 1e-6:
        return
    net = fw_ref.TwoLayerTorchNet(D, H, C)
    fw_ref.load_weights(net, W1, b1, W2, b2)
    losses = fw_ref.sgd_train(net, X, y, lr, N, 1, seed=3)  # one full batch: one step
    want_loss, grads = _numpy_net(backprop_ref, W1, b1, W2, b2).loss(X, y)
    np.testing.assert_allclose(losses, [want_loss], rtol=1e-10, atol=1e-12)
    after = fw_ref.get_weights(net)
    for key, w in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2)):
        np.testing.assert_allclose(after[key], w - lr * grads[key], rtol=1e-9, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(N=st.integers(1, 12), batch=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_loader_follows_the_seeded_permutation(fw_ref, N, batch, seed):
    X = np.arange(N, dtype=np.float64)[:, None]
    Xs, ys, sizes = fw_ref.loader_batches(X, np.arange(N), batch, seed, 2)
    assert sizes.sum() == 2 * N and sizes.max() <= batch
    for epoch in range(2):
        assert sorted(ys[epoch * N : (epoch + 1) * N].tolist()) == list(range(N))
    again = fw_ref.loader_batches(X, np.arange(N), batch, seed, 2)
    assert all(np.array_equal(a, b) for a, b in zip((Xs, ys, sizes), again))
    np.testing.assert_array_equal(Xs[:, 0], ys)


def test_transfer_learning_trains_only_the_head(fw_ref):
    model = fw_ref.make_pretrained_cnn(7)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    model = fw_ref.replace_head(model, 4)
    opt = fw_ref.head_optimizer(model, 0.05)
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    assert held == {id(p) for p in model.head.parameters()}
    assert not any(p.requires_grad for p in model.features.parameters())
    X, y = fw_ref.make_blobs(30, 1)
    fw_ref.train_head(model, opt, X, y, 16, 3, seed=2)
    for k, v in model.features.state_dict().items():
        assert torch.equal(v, before[k]), k
    X_val, y_val = fw_ref.make_blobs(25, 2)
    scores, tracked = fw_ref.predict(model, X_val)
    assert not tracked and np.mean(scores.argmax(1) == y_val) >= 0.9

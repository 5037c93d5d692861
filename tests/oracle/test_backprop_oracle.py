"""The reference layers (solutions/backprop.py) agree with PyTorch autograd in float64.

Each backward pass is compared with ``torch.autograd`` applied to the matching torch function,
with a random upstream derivative. Inputs stay away from kinks (relu family, maxout ties), where
either side may legitimately pick another subgradient. Weights are (fan_in, fan_out) here and
(out, in) in torch, hence the transposes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import (
    KINK_MARGIN,
    affine_inputs,
    arrays_away_from_kinks,
    batch_sizes,
    class_counts,
    float_arrays,
    labels,
    maxout_inputs,
    regularization_strengths,
    small_shapes,
)


def _leaf(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).requires_grad_(True)


def _upstream(data: st.DataObject, shape: tuple[int, ...]) -> np.ndarray:
    return data.draw(float_arrays(shape), label="dout")


@given(inputs=affine_inputs(), data=st.data())
def test_affine_matches_linear(backprop_ref, assert_close, inputs, data):
    x, w, b = inputs
    before = [a.copy() for a in inputs]
    out, cache = backprop_ref.affine_forward(x, w, b)
    dout = _upstream(data, out.shape)
    dx, dw, db = backprop_ref.affine_backward(dout, cache)

    xt, wt, bt = _leaf(x), _leaf(w), _leaf(b)
    out_t = F.linear(xt.reshape(x.shape[0], -1), wt.T, bt)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="affine_forward out")
    assert_close(dx, xt.grad.numpy(), what="affine_backward dx (x's original shape)")
    assert_close(dw, wt.grad.numpy(), what="affine_backward dw")
    assert_close(db, bt.grad.numpy(), what="affine_backward db")
    for original, array in zip(before, inputs):
        np.testing.assert_array_equal(array, original, err_msg="affine modified its input")


def test_affine_cache_layout(backprop_ref):
    x, w, b = np.ones((2, 3, 2)), np.ones((6, 4)), np.zeros(4)
    _, cache = backprop_ref.affine_forward(x, w, b)
    assert isinstance(cache, tuple) and len(cache) == 3
    assert all(cached is passed for cached, passed in zip(cache, (x, w, b)))


ELEMENTWISE = {
    # name: (torch function of x and the layer's extra arguments, strategy for those arguments)
    "relu": (torch.relu, st.just({})),
    "sigmoid": (torch.sigmoid, st.just({})),
    "tanh": (torch.tanh, st.just({})),
    "leaky_relu": (
        lambda x, alpha: F.leaky_relu(x, negative_slope=alpha),
        st.fixed_dictionaries({"alpha": st.floats(0.0, 0.5)}),
    ),
    "elu": (
        lambda x, alpha: F.elu(x, alpha=alpha),
        st.fixed_dictionaries({"alpha": st.floats(0.1, 3.0)}),
    ),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(x=arrays_away_from_kinks(small_shapes(max_dims=4)), data=st.data())
def test_elementwise_matches_torch(backprop_ref, assert_close, name, x, data):
    torch_fn, extra_args = ELEMENTWISE[name]
    kwargs = data.draw(extra_args, label="kwargs")
    x_before = x.copy()
    out, cache = getattr(backprop_ref, f"{name}_forward")(x, **kwargs)
    dout = _upstream(data, x.shape)
    dx = getattr(backprop_ref, f"{name}_backward")(dout, cache)

    xt = _leaf(x)
    out_t = torch_fn(xt, **kwargs)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what=f"{name}_forward out")
    assert_close(dx, xt.grad.numpy(), what=f"{name}_backward dx")
    np.testing.assert_array_equal(x, x_before, err_msg=f"{name}_forward modified x")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu"])
def test_gradient_at_the_kink_matches_torch(backprop_ref, assert_close, name):
    """At x == 0 exactly: relu 0, leaky relu and elu alpha (the documented choice, torch's)."""
    torch_fn, _ = ELEMENTWISE[name]
    kwargs = {} if name == "relu" else {"alpha": 0.3}
    x = np.array([-1.0, 0.0, 1.0])
    _, cache = getattr(backprop_ref, f"{name}_forward")(x, **kwargs)
    dx = getattr(backprop_ref, f"{name}_backward")(np.ones(3), cache)
    xt = _leaf(x)
    torch_fn(xt, **kwargs).sum().backward()
    assert_close(dx, xt.grad.numpy(), what=f"{name}_backward dx at x = [-1, 0, 1]")


def test_default_alphas(backprop_ref):
    x = np.array([-2.0, 3.0])
    leaky, _ = backprop_ref.leaky_relu_forward(x)
    elu, _ = backprop_ref.elu_forward(x)
    np.testing.assert_allclose(leaky, [-0.02, 3.0], rtol=1e-15)
    np.testing.assert_allclose(elu, [math.expm1(-2.0), 3.0], rtol=1e-15)


def test_sigmoid_and_elu_stay_finite_for_large_inputs(backprop_ref):
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is benign
        sigmoid, _ = backprop_ref.sigmoid_forward(x)
        elu, _ = backprop_ref.elu_forward(x)
    np.testing.assert_allclose(sigmoid, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(elu, F.elu(torch.from_numpy(x)).numpy(), rtol=1e-12)


@given(inputs=maxout_inputs(), data=st.data())
def test_maxout_matches_torch_max(backprop_ref, assert_close, inputs, data):
    x, w, b = inputs
    before = [a.copy() for a in inputs]
    out, cache = backprop_ref.maxout_forward(x, w, b)
    dout = _upstream(data, out.shape)
    dx, dw, db = backprop_ref.maxout_backward(dout, cache)

    xt, wt, bt = _leaf(x), _leaf(w), _leaf(b)
    out_t = (torch.einsum("nd,dmk->nmk", xt, wt) + bt).max(dim=2).values
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="maxout_forward out")
    assert_close(dx, xt.grad.numpy(), what="maxout_backward dx")
    assert_close(dw, wt.grad.numpy(), what="maxout_backward dw")
    assert_close(db, bt.grad.numpy(), what="maxout_backward db")
    for original, array in zip(before, inputs):
        np.testing.assert_array_equal(array, original, err_msg="maxout modified its input")


def test_maxout_tie_goes_to_first_piece(backprop_ref):
    # x = 0 makes every piece equal to its bias; pieces 1 and 2 of the single unit tie.
    x, w, b = np.zeros((1, 2)), np.ones((2, 1, 3)), np.array([[0.0, 5.0, 5.0]])
    out, cache = backprop_ref.maxout_forward(x, w, b)
    _, _, db = backprop_ref.maxout_backward(np.ones((1, 1)), cache)
    np.testing.assert_array_equal(out, [[5.0]])
    np.testing.assert_array_equal(db, [[0.0, 1.0, 0.0]])


@given(inputs=affine_inputs(relu_margin=KINK_MARGIN), data=st.data())
def test_affine_relu_matches_autograd(backprop_ref, assert_close, inputs, data):
    x, w, b = inputs
    out, cache = backprop_ref.affine_relu_forward(x, w, b)
    dout = _upstream(data, out.shape)
    dx, dw, db = backprop_ref.affine_relu_backward(dout, cache)

    xt, wt, bt = _leaf(x), _leaf(w), _leaf(b)
    out_t = torch.relu(xt.reshape(x.shape[0], -1) @ wt + bt)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), what="affine_relu_forward out")
    assert_close(dx, xt.grad.numpy(), what="affine_relu_backward dx")
    assert_close(dw, wt.grad.numpy(), what="affine_relu_backward dw")
    assert_close(db, bt.grad.numpy(), what="affine_relu_backward db")


@st.composite
def two_layer_problems(draw: st.DrawFn) -> dict[str, object]:
    """Inputs (N, d_1, ..., d_k), parameters, labels and reg, with hidden pre-activations away
    from the relu kink."""
    n, c = draw(batch_sizes), draw(class_counts)
    example_shape = draw(small_shapes(min_dims=1, max_dims=3))
    d, h = int(np.prod(example_shape)), draw(st.integers(1, 5))
    X = draw(float_arrays((n, *example_shape)))
    params = {
        "W1": draw(float_arrays((d, h))),
        "b1": draw(arrays_away_from_kinks((h,))),
        "W2": draw(float_arrays((h, c))),
        "b2": draw(float_arrays((c,))),
    }
    hidden = X.reshape(n, d) @ params["W1"] + params["b1"]
    assume(bool(np.min(np.abs(hidden)) > KINK_MARGIN))
    return {
        "X": X,
        "y": draw(labels(n, c)),
        "params": params,
        "reg": draw(regularization_strengths()),
    }


@given(problem=two_layer_problems())
def test_two_layer_net_matches_autograd(backprop_ref, assert_close, problem):
    X, y, params, reg = problem["X"], problem["y"], problem["params"], problem["reg"]
    n, c = X.shape[0], params["W2"].shape[1]
    net = backprop_ref.TwoLayerNet(
        input_dim=params["W1"].shape[0], hidden_dim=params["W1"].shape[1], num_classes=c, reg=reg
    )
    net.params = {key: value.copy() for key, value in params.items()}
    scores = net.loss(X)
    loss, grads = net.loss(X, y)

    leaves = {key: _leaf(value) for key, value in params.items()}
    hidden = torch.relu(torch.from_numpy(X).reshape(n, -1) @ leaves["W1"] + leaves["b1"])
    scores_t = hidden @ leaves["W2"] + leaves["b2"]
    # fc_net convention: 0.5 * reg, unlike the linear classifiers' reg * sum(W * W).
    penalty = 0.5 * reg * ((leaves["W1"] ** 2).sum() + (leaves["W2"] ** 2).sum())
    loss_t = F.cross_entropy(scores_t, torch.from_numpy(y)) + penalty
    loss_t.backward()

    assert_close(scores, scores_t.detach().numpy(), what="TwoLayerNet.loss scores (y=None)")
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item(), what="TwoLayerNet.loss loss")
    assert sorted(grads) == sorted(params)
    for key, leaf in leaves.items():
        assert_close(grads[key], leaf.grad.numpy(), what=f"TwoLayerNet.loss grads[{key!r}]")
        np.testing.assert_array_equal(net.params[key], params[key], err_msg=f"{key} modified")


def test_two_layer_net_init_shapes_and_scale(backprop_ref):
    net = backprop_ref.TwoLayerNet(input_dim=200, hidden_dim=300, num_classes=7, weight_scale=0.1)
    shapes = {key: value.shape for key, value in net.params.items()}
    assert shapes == {"W1": (200, 300), "b1": (300,), "W2": (300, 7), "b2": (7,)}
    assert net.reg == 0.0
    np.testing.assert_array_equal(net.params["b1"], 0.0)
    np.testing.assert_array_equal(net.params["b2"], 0.0)
    # 60,000 draws: the sample std is within 3% of weight_scale with overwhelming probability.
    assert net.params["W1"].std() == pytest.approx(0.1, rel=0.03)


# --- initialisers -----------------------------------------------------------------------------

SLOPES = [0.0, 0.01, 0.2, 1.0, math.sqrt(5.0)]


@pytest.mark.parametrize("a", SLOPES)
def test_kaiming_std_matches_torch(backprop_ref, a):
    fan_in, fan_out = 256, 1024  # not square: a swapped fan shows as a factor 2 in the std
    expected_std = torch.nn.init.calculate_gain("leaky_relu", a) / math.sqrt(fan_in)
    state = np.random.get_state()
    w = backprop_ref.kaiming_init(fan_in, fan_out, np.random.default_rng(0), a=a)
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    assert w.std() == pytest.approx(expected_std, rel=0.03)
    # torch's own draw, laid out (out, in), has the same std.
    torch_w = torch.nn.init.kaiming_normal_(
        torch.empty(fan_out, fan_in, dtype=torch.float64),
        a=a,
        mode="fan_in",
        nonlinearity="leaky_relu",
        generator=torch.Generator().manual_seed(0),
    )
    assert torch_w.std().item() == pytest.approx(expected_std, rel=0.03)
    assert _global_state_unchanged(state)


def test_kaiming_std_square_512(backprop_ref):
    w = backprop_ref.kaiming_init(512, 512, np.random.default_rng(1))
    assert w.std() == pytest.approx(math.sqrt(2.0 / 512), rel=0.03)
    assert abs(w.mean()) < 0.03 * math.sqrt(2.0 / 512)


@pytest.mark.parametrize("fans", [(200, 300), (784, 100)])
def test_xavier_bound_matches_torch(backprop_ref, fans):
    fan_in, fan_out = fans
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    state = np.random.get_state()
    w = backprop_ref.xavier_init(fan_in, fan_out, np.random.default_rng(0))
    torch_w = torch.nn.init.xavier_uniform_(
        torch.empty(fan_out, fan_in, dtype=torch.float64),
        generator=torch.Generator().manual_seed(0),
    )
    for label, sample in (("xavier_init", w), ("torch xavier_uniform_", torch_w.numpy())):
        # >= 20,000 uniform draws: the largest |w| lies within 0.1% of the bound.
        assert np.max(np.abs(sample)) <= bound, label
        assert np.max(np.abs(sample)) >= 0.999 * bound, label
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    assert _global_state_unchanged(state)


@given(
    fan_in=st.integers(1, 50),
    fan_out=st.integers(1, 50),
    a=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_initialisers_draw_from_the_given_generator(backprop_ref, fan_in, fan_out, a, seed):
    """Exactly one rng.uniform / rng.normal call with the documented bound / std."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    expected = np.random.default_rng(seed).uniform(-bound, bound, size=(fan_in, fan_out))
    np.testing.assert_array_equal(
        backprop_ref.xavier_init(fan_in, fan_out, np.random.default_rng(seed)), expected
    )
    std = torch.nn.init.calculate_gain("leaky_relu", a) / math.sqrt(fan_in)
    expected = np.random.default_rng(seed).normal(0.0, std, size=(fan_in, fan_out))
    np.testing.assert_allclose(
        backprop_ref.kaiming_init(fan_in, fan_out, np.random.default_rng(seed), a=a),
        expected,
        rtol=1e-12,
    )


def _global_state_unchanged(before: tuple) -> bool:
    after = np.random.get_state()
    return before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]

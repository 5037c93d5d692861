"""The reference training code (solutions/training.py) against independent oracles.

- ``train``: a PyTorch re-implementation of the same loop in float64 (autograd through
  ``F.cross_entropy`` plus the L2 term, ``torch.optim.SGD`` / ``SGD(momentum)`` / ``Adam`` as the
  update rules, best weights cloned), on the same permutations (``default_rng(seed)``, one
  ``permutation(N)`` per epoch): the same best weights and histories.
- ``ensemble_predict``: ``torch.softmax(scores, -1).mean(0)``.
- ``polyak_average``: ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn`` (the
  first update copies the parameters, then the EMA), and the closed form
  decay^(T-1) c_0 + sum_t (1 - decay) decay^(T-1-t) c_t.
- ``newton_step``: ``scipy.linalg.solve`` and ``torch.linalg.solve``; one step on a quadratic
  lands on ``scipy.optimize.minimize``'s minimiser.
- ``bfgs_update``: ``scipy.optimize.BFGS`` (inverse-Hessian form, from the identity) and the
  inverse of the Hessian-form BFGS update B - Bss'B/(s'Bs) + yy'/(y's) in torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import float_arrays

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "training.py"


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_training", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(seed: int, n: int = 36, m: int = 24, d: int = 4, c: int = 3) -> tuple:
    rng = np.random.default_rng(seed)
    means = 1.2 * rng.standard_normal((c, d))
    y_train, y_val = rng.integers(0, c, n), rng.integers(0, c, m)
    X_train = means[y_train] + rng.standard_normal((n, d))
    X_val = means[y_val] + rng.standard_normal((m, d))
    return 1e-3 * rng.standard_normal((d, c)), X_train, y_train, X_val, y_val


TORCH_RULES = {
    "sgd": (lambda p, o: torch.optim.SGD([p], lr=o["learning_rate"]), {"learning_rate": 0.3}),
    "sgd_momentum": (
        lambda p, o: torch.optim.SGD([p], lr=o["learning_rate"], momentum=o["momentum"]),
        {"learning_rate": 0.05, "momentum": 0.8},
    ),
    "adam": (lambda p, o: torch.optim.Adam([p], lr=o["learning_rate"]), {"learning_rate": 0.05}),
}


def _torch_train(W, X_train, y_train, X_val, y_val, config):
    make, _ = TORCH_RULES[config["update_rule"]]
    w = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    opt = make(w, config["optim_config"])
    Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
    Xv, yv = torch.from_numpy(X_val), torch.from_numpy(y_val)
    rng = np.random.default_rng(config["seed"])
    losses, train_acc, val_acc = [], [], []
    best, best_w, best_epoch, waited = -1.0, w.detach().clone(), 0, 0
    for epoch in range(config["num_epochs"]):
        perm = torch.from_numpy(rng.permutation(len(y_train)))
        for idx in torch.split(perm, config["batch_size"]):
            opt.zero_grad()
            loss = F.cross_entropy(Xt[idx] @ w, yt[idx]) + config["reg"] * (w * w).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            train_acc.append((Xt @ w).argmax(1).eq(yt).double().mean().item())
            val_acc.append((Xv @ w).argmax(1).eq(yv).double().mean().item())
        if val_acc[-1] > best:
            best, best_w, best_epoch, waited = val_acc[-1], w.detach().clone(), epoch, 0
        else:
            waited += 1
            if waited >= config["patience"]:
                break
    return best_w.numpy(), losses, train_acc, val_acc, best, best_epoch


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    rule=st.sampled_from(sorted(TORCH_RULES)),
    batch_size=st.sampled_from([1, 5, 8, 36]),
    patience=st.integers(1, 4),
)
def test_train_matches_a_torch_loop(ref, seed, rule, batch_size, patience):
    W, X_train, y_train, X_val, y_val = _data(seed)
    config = {
        "update_rule": rule,
        "optim_config": dict(TORCH_RULES[rule][1]),
        "num_epochs": 12,
        "batch_size": batch_size,
        "reg": 1e-3,
        "patience": patience,
        "seed": seed,
    }
    best_W, history = ref.train(W.copy(), X_train, y_train, X_val, y_val, config)
    want_W, losses, train_acc, val_acc, best, best_epoch = _torch_train(
        W, X_train, y_train, X_val, y_val, config
    )
    np.testing.assert_allclose(history["loss_history"], losses, rtol=1e-9)
    np.testing.assert_array_equal(history["val_acc_history"], val_acc)
    np.testing.assert_array_equal(history["train_acc_history"], train_acc)
    assert (history["best_val_acc"], history["best_epoch"]) == (best, best_epoch)
    np.testing.assert_allclose(best_W, want_W, rtol=1e-9, atol=1e-12)


@given(m=st.integers(1, 5), n=st.integers(1, 6), c=st.integers(2, 7), data=st.data())
def test_ensemble_is_the_mean_of_torch_softmaxes(ref, m, n, c, data):
    scores = data.draw(float_arrays((m, n, c), elements=st.floats(-30, 30)), label="scores")
    want = torch.softmax(torch.from_numpy(scores), dim=-1).mean(0).numpy()
    np.testing.assert_allclose(ref.ensemble_predict(scores), want, rtol=1e-12, atol=1e-15)


@given(t=st.integers(1, 8), decay=st.sampled_from([0.0, 0.3, 0.9, 0.99]), data=st.data())
def test_polyak_is_torch_ema(ref, t, decay, data):
    checkpoints = data.draw(float_arrays((t, 3, 2)), label="checkpoints")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = torch.nn.Linear(2, 3, bias=False).double()
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    for ckpt in checkpoints:
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(ckpt))
        ema.update_parameters(model)
    got = ref.polyak_average(checkpoints, decay)
    np.testing.assert_allclose(got, ema.module.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = [decay ** (t - 1)] + [(1 - decay) * decay ** (t - 1 - i) for i in range(1, t)]
    closed = np.tensordot(np.array(weights), checkpoints, axes=1)
    np.testing.assert_allclose(got, closed, rtol=1e-10, atol=1e-12)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


@given(d=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_newton_step_solves_like_scipy_and_torch(ref, d, seed):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((d, d)) + d * np.eye(d)  # not symmetric
    w, g = rng.standard_normal(d), rng.standard_normal(d)
    got = ref.newton_step(w, g, J)
    np.testing.assert_allclose(got, w - scipy.linalg.solve(J, g), rtol=1e-10, atol=1e-12)
    t = torch.linalg.solve(torch.from_numpy(J), torch.from_numpy(g)).numpy()
    np.testing.assert_allclose(got, w - t, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_one_newton_step_reaches_the_scipy_minimum(ref, d, seed):
    rng = np.random.default_rng(seed)
    A, b, w = _spd(rng, d), rng.standard_normal(d), rng.standard_normal(d)
    found = scipy.optimize.minimize(
        lambda v: 0.5 * v @ A @ v - b @ v, np.zeros(d), jac=lambda v: A @ v - b, tol=1e-12
    )
    np.testing.assert_allclose(ref.newton_step(w, A @ w - b, A), found.x, rtol=1e-5, atol=1e-6)


@given(d=st.integers(1, 7), seed=st.integers(0, 2**31 - 1))
def test_bfgs_is_the_inverse_of_the_hessian_form_update(ref, d, seed):
    rng = np.random.default_rng(seed)
    H, A, s = np.linalg.inv(_spd(rng, d)), _spd(rng, d), rng.standard_normal(d)
    y = A @ s
    B = torch.linalg.inv(torch.from_numpy(H))
    st_, yt = torch.from_numpy(s), torch.from_numpy(y)
    Bs = B @ st_
    B_new = B - torch.outer(Bs, Bs) / (st_ @ Bs) + torch.outer(yt, yt) / (yt @ st_)
    got = ref.bfgs_update(H, s, y)
    np.testing.assert_allclose(got, torch.linalg.inv(B_new).numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(got @ y, s, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-14)
    assert np.linalg.eigvalsh(got).min() > 0


@given(d=st.integers(1, 7), seed=st.integers(0, 2**31 - 1))
def test_bfgs_matches_scipy_from_the_identity(ref, d, seed):
    rng = np.random.default_rng(seed)
    A, s = _spd(rng, d), rng.standard_normal(d)
    y = A @ s
    oracle = scipy.optimize.BFGS(init_scale=1.0)
    oracle.initialize(d, "inv_hess")
    oracle.update(s, y)
    got = ref.bfgs_update(np.eye(d), s, y)
    np.testing.assert_allclose(got, oracle.get_matrix(), rtol=1e-9, atol=1e-12)

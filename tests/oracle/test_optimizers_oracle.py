"""The reference update rules and schedules (solutions/optimizers.py) agree with torch.optim.

Each rule runs many steps (up to 50) from the same start on the same gradients as its torch
optimizer, in float64; the weights after every step and the optimizer state are compared. The
state maps as the reference docstrings say: CS231n's velocity is -lr times torch's momentum
buffer (equal runs while the learning rate is constant), Adagrad's and RMSProp's ``cache`` are
torch's ``sum`` and ``square_avg``, Adam's ``m``, ``v``, ``t`` are ``exp_avg``, ``exp_avg_sq``,
``step``. Schedules are compared with torch.optim.lr_scheduler after ``step`` scheduler steps.
Hypothesis draws shapes, hyperparameters, step counts and a seed for the gradients.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import small_shapes

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "optimizers.py"


def _load():
    spec = importlib.util.spec_from_file_location("reference_optimizers", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _load()

steps_counts = st.integers(min_value=1, max_value=50)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
learning_rates = st.sampled_from([1e-4, 1e-3, 1e-2, 5e-2])
momenta = st.floats(0.05, 0.99)  # torch keeps no buffer at momentum 0
epsilons = st.sampled_from([1e-8, 1e-6, 1e-4])


def _assert_close(actual, expected, what: str, rtol: float = 1e-10) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _gradients(seed: int, shape: tuple[int, ...], steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


def _torch_run(make_optimizer, w0: np.ndarray, dws: list[np.ndarray]):
    """torch's weights after each step, and the optimizer with its final state."""
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    optimizer = make_optimizer([p])
    ws = []
    for dw in dws:
        p.grad = torch.from_numpy(dw.copy())
        optimizer.step()
        ws.append(p.detach().numpy().copy())
    return ws, optimizer.state[p]


def _reference_run(update, w0: np.ndarray, dws: list[np.ndarray], config: dict):
    ws, w = [], w0.copy()
    for dw in dws:
        before = dw.copy()
        w, config = update(w, dw, config)
        np.testing.assert_array_equal(dw, before, err_msg="the update modified dw")
        ws.append(w.copy())
    return ws, config


def _compare_runs(name: str, ours: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    for k, (a, b) in enumerate(zip(ours, theirs)):
        _assert_close(a, b, f"{name}: w after step {k + 1}")


@given(shape=small_shapes(), steps=steps_counts, seed=seeds, lr=learning_rates)
def test_sgd_matches_torch(shape, steps, seed, lr):
    w0, *dws = _gradients(seed, shape, steps + 1)
    ours, _ = _reference_run(REF.sgd, w0, dws, {"learning_rate": lr})
    theirs, _ = _torch_run(lambda ps: torch.optim.SGD(ps, lr=lr), w0, dws)
    _compare_runs("sgd", ours, theirs)


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
@given(shape=small_shapes(), steps=steps_counts, seed=seeds, lr=learning_rates, mu=momenta)
def test_momentum_matches_torch_with_constant_lr(nesterov, shape, steps, seed, lr, mu):
    """CS231n's velocity v and torch's buffer b give the same run: v = -lr * b."""
    w0, *dws = _gradients(seed, shape, steps + 1)
    update = REF.nesterov_momentum if nesterov else REF.sgd_momentum
    ours, config = _reference_run(update, w0, dws, {"learning_rate": lr, "momentum": mu})
    theirs, state = _torch_run(
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, nesterov=nesterov), w0, dws
    )
    _compare_runs(update.__name__, ours, theirs)
    _assert_close(config["velocity"], -lr * state["momentum_buffer"].numpy(), "velocity")


def test_momentum_formulations_differ_when_the_learning_rate_changes():
    """The documented difference: torch scales the whole buffer by the new lr, CS231n only the
    new gradient (v = mu * v - lr_t * dw keeps the old velocity's lr)."""
    rng = np.random.default_rng(0)
    w0, dw1, dw2 = rng.standard_normal((3, 4))
    mu, lr1, lr2 = 0.9, 0.1, 0.01
    w1, config = REF.sgd_momentum(w0.copy(), dw1, {"learning_rate": lr1, "momentum": mu})
    config["learning_rate"] = lr2
    w2, _ = REF.sgd_momentum(w1.copy(), dw2, config)

    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    optimizer = torch.optim.SGD([p], lr=lr1, momentum=mu)
    for grad, lr in ((dw1, lr1), (dw2, lr2)):
        optimizer.param_groups[0]["lr"] = lr
        p.grad = torch.from_numpy(grad.copy())
        optimizer.step()
    torch_w2 = p.detach().numpy()

    _assert_close(w2, w1 + mu * (-lr1 * dw1) - lr2 * dw2, "CS231n: old velocity keeps lr1")
    _assert_close(torch_w2, w1 - lr2 * (mu * dw1 + dw2), "torch: buffer scaled by lr2")
    assert not np.allclose(w2, torch_w2)


@given(shape=small_shapes(), steps=steps_counts, seed=seeds, lr=learning_rates, eps=epsilons)
def test_adagrad_matches_torch(shape, steps, seed, lr, eps):
    w0, *dws = _gradients(seed, shape, steps + 1)
    ours, config = _reference_run(REF.adagrad, w0, dws, {"learning_rate": lr, "epsilon": eps})
    theirs, state = _torch_run(
        lambda ps: torch.optim.Adagrad(ps, lr=lr, eps=eps, initial_accumulator_value=0.0),
        w0,
        dws,
    )
    _compare_runs("adagrad", ours, theirs)
    _assert_close(config["cache"], state["sum"].numpy(), "cache vs torch's sum")


@given(
    shape=small_shapes(),
    steps=steps_counts,
    seed=seeds,
    lr=learning_rates,
    eps=epsilons,
    rho=st.floats(0.5, 0.999),
)
def test_rmsprop_matches_torch(shape, steps, seed, lr, eps, rho):
    w0, *dws = _gradients(seed, shape, steps + 1)
    config = {"learning_rate": lr, "decay_rate": rho, "epsilon": eps}
    ours, config = _reference_run(REF.rmsprop, w0, dws, config)
    theirs, state = _torch_run(
        lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=rho, eps=eps), w0, dws
    )
    _compare_runs("rmsprop", ours, theirs)
    _assert_close(config["cache"], state["square_avg"].numpy(), "cache vs torch's square_avg")


@given(
    shape=small_shapes(),
    steps=steps_counts,
    seed=seeds,
    lr=learning_rates,
    eps=epsilons,
    beta1=st.floats(0.0, 0.95),
    beta2=st.floats(0.9, 0.9999),
)
def test_adam_matches_torch(shape, steps, seed, lr, eps, beta1, beta2):
    w0, *dws = _gradients(seed, shape, steps + 1)
    config = {"learning_rate": lr, "beta1": beta1, "beta2": beta2, "epsilon": eps}
    ours, config = _reference_run(REF.adam, w0, dws, config)
    theirs, state = _torch_run(
        lambda ps: torch.optim.Adam(ps, lr=lr, betas=(beta1, beta2), eps=eps), w0, dws
    )
    _compare_runs("adam", ours, theirs)
    _assert_close(config["m"], state["exp_avg"].numpy(), "m vs torch's exp_avg")
    _assert_close(config["v"], state["exp_avg_sq"].numpy(), "v vs torch's exp_avg_sq")
    assert type(config["t"]) is int and config["t"] == int(state["step"]) == steps


@pytest.mark.parametrize(
    "update, defaults",
    [
        (REF.sgd, {"learning_rate": 1e-2}),
        (REF.sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
        (REF.nesterov_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
        (REF.adagrad, {"learning_rate": 1e-2, "epsilon": 1e-8}),
        (REF.rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
        (
            REF.adam,
            {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
        ),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_defaults_are_cs231n(update, defaults):
    rng = np.random.default_rng(1)
    w, dw = rng.standard_normal((2, 3, 4))
    _, config = update(w, dw)
    for key, value in defaults.items():
        assert config[key] == value, key


# -- schedules ---------------------------------------------------------------------------------
def _torch_lrs(lr0: float, make_scheduler, steps: int) -> list[float]:
    """torch's learning rate at steps 0..steps-1 (before each optimizer step)."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([p], lr=lr0)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def _assert_schedule(ours: list[float], theirs: list[float], what: str) -> None:
    assert all(type(v) is float for v in ours), f"{what}: returns a Python float"
    _assert_close(ours, theirs, what, rtol=1e-9)


lr0s = st.floats(1e-4, 1.0)


@given(lr0=lr0s, drop=st.floats(0.05, 1.0), every=st.integers(1, 10), steps=st.integers(1, 60))
def test_step_decay_matches_step_lr(lr0, drop, every, steps):
    theirs = _torch_lrs(
        lr0, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=every, gamma=drop), steps
    )
    ours = [REF.step_decay(s, lr0, drop, every) for s in range(steps)]
    _assert_schedule(ours, theirs, "step_decay vs StepLR")


@given(lr0=lr0s, gamma=st.floats(0.8, 1.0), steps=st.integers(1, 100))
def test_exponential_decay_matches_exponential_lr(lr0, gamma, steps):
    theirs = _torch_lrs(lr0, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), steps)
    ours = [REF.exponential_decay(s, lr0, gamma) for s in range(steps)]
    _assert_schedule(ours, theirs, "exponential_decay vs ExponentialLR")


@given(lr0=lr0s, total=st.integers(1, 40), min_fraction=st.floats(0.0, 1.0), data=st.data())
def test_cosine_annealing_matches_cosine_annealing_lr(lr0, total, min_fraction, data):
    """Over two periods: past total_steps both rise again along the same cosine."""
    lr_min = lr0 * min_fraction
    steps = data.draw(st.integers(1, 2 * total + 1), label="steps")
    theirs = _torch_lrs(
        lr0,
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total, eta_min=lr_min),
        steps,
    )
    ours = [REF.cosine_annealing(s, lr0, total, lr_min) for s in range(steps)]
    _assert_schedule(ours, theirs, "cosine_annealing vs CosineAnnealingLR")


@given(lr0=lr0s, warmup=st.integers(1, 30), start=st.floats(0.01, 1.0), extra=st.integers(0, 20))
def test_linear_warmup_matches_linear_lr(lr0, warmup, start, extra):
    steps = warmup + extra + 1
    theirs = _torch_lrs(
        lr0,
        lambda o: torch.optim.lr_scheduler.LinearLR(
            o, start_factor=start, end_factor=1.0, total_iters=warmup
        ),
        steps,
    )
    ours = [REF.linear_warmup(s, lr0, warmup, start) for s in range(steps)]
    _assert_schedule(ours, theirs, "linear_warmup vs LinearLR")


def test_linear_warmup_default_starts_from_zero():
    assert REF.linear_warmup(0, 0.3, 10) == 0.0
    assert math.isclose(REF.linear_warmup(5, 0.3, 10), 0.15)
    assert REF.linear_warmup(10, 0.3, 10) == REF.linear_warmup(25, 0.3, 10) == 0.3

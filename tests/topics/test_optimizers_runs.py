"""The multi-step machinery of the optimizers checks: the property laws hold for the reference
with wide margins on many seeds (so grading never flakes), and the comparisons behave at
their edges (tiny update entries, non-finite runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from grader.topics import optimizers as topic
from grader.topics.optimizers.runs import (
    Run,
    quadratic,
    scaled_error,
    simulate,
    unit_gradients,
)

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "optimizers.py"
SEEDS = range(200)


def _reference():
    spec = importlib.util.spec_from_file_location("reference_optimizers_runs", SOLUTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _reference()


@pytest.mark.parametrize("fn", topic.OPTIMIZERS)
def test_descent_law_holds_with_a_margin(fn):
    """Each step lowers f by more than 1e-5 of its value (roundoff is about 1e-16)."""
    worst = np.inf
    for seed in SEEDS:
        w0, gradient, f = quadratic(np.random.default_rng(seed))
        run = simulate(getattr(REF, fn), w0, {"learning_rate": 1e-3}, gradient, 8)
        values = np.array([f(w) for w in run.ws])
        worst = min(worst, float(np.min((values[:-1] - values[1:]) / values[:-1])))
    assert worst > 1e-5, worst


@pytest.mark.parametrize("fn", ["adagrad", "rmsprop", "adam"])
def test_scale_invariance_holds_with_a_margin(fn):
    """Epsilon moves the updates by less than a tenth of the check's tolerance of 1e-5 (RMSProp's
    first step divides by sqrt(0.01) * |dw| >= 0.01, where epsilon weighs 1e-6)."""
    worst = 0.0
    for seed in SEEDS:
        w0, dws = unit_gradients(np.random.default_rng(seed), 5)
        config = {"learning_rate": 1e-2}
        plain = simulate(getattr(REF, fn), w0, config, lambda k, w, d=dws: d[k], 5)
        scaled = simulate(getattr(REF, fn), w0, config, lambda k, w, d=dws: 8.0 * d[k], 5)
        for a, b in zip(scaled.updates, plain.updates):
            worst = max(worst, scaled_error("update", a, b, 1e-5).error)
    assert worst < 1e-6, worst


def test_scaled_error_judges_tiny_entries_against_the_array_scale():
    expected = np.array([1e-2, 1e-12])
    got = expected + np.array([0.0, 1e-17])  # roundoff of next_w - w with |w| ~ 0.1
    assert scaled_error("update", got, expected, 1e-6).ok
    assert not scaled_error("update", got * 1.01, expected, 1e-6).ok


def test_runs_that_are_non_finite_everywhere_do_not_match():
    nan = Run((np.zeros(2),) * 3, (np.full(2, np.nan),) * 2, ({}, {}))
    inf = Run((np.zeros(2),) * 3, (np.full(2, np.inf),) * 2, ({}, {}))
    partly = Run((np.zeros(2),) * 3, (np.array([np.nan, 1.0]),) * 2, ({}, {}))
    assert not nan.same_updates(inf, 1e-6)
    assert partly.same_updates(partly, 1e-6)
    assert not partly.same_updates(nan, 1e-6)


def test_simulate_runs_on_copies():
    w0, dws = unit_gradients(np.random.default_rng(0), 3)
    config = {"learning_rate": 0.1}
    before = [w0.copy(), [d.copy() for d in dws]]
    run = simulate(REF.adam, w0, config, lambda k, w: dws[k], 3)
    assert config == {"learning_rate": 0.1}
    np.testing.assert_array_equal(w0, before[0])
    assert run.configs[-1]["t"] == 3 and len(run.updates) == 3


def test_every_stateful_rule_has_the_lost_state_mistake():
    named = {(m.function, m.name) for m in topic.MISCONCEPTIONS}
    for fn, keys in topic.STATE.items():
        assert ((fn, "optimizer state not written back") in named) == bool(keys)

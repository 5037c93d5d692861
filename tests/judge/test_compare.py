"""The CS231n relative error, its worst index, and the gradient variant's floor."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.judge import numgrad
from grader.judge.compare import gradient_error, relative_error


def test_known_value_and_worst_index():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = a.copy()
    b[1, 0] = 3.3
    cmp = relative_error("dW", a, b, 1e-7)
    assert cmp.worst_index == (1, 0)
    assert np.isclose(cmp.error, 0.3 / 6.3)
    assert not cmp.ok and "dW[1, 0]" in cmp.describe() and "1e-07" in cmp.describe()


def test_nan_never_matches_and_infinities_match_only_themselves():
    cmp = relative_error("x", np.array([1.0, np.nan]), np.array([1.0, 2.0]), 1e-7)
    assert cmp.error == np.inf and cmp.worst_index == (1,)
    # a NaN result is never right, even against a NaN numeric gradient of a NaN loss
    assert not relative_error("x", np.array([np.nan]), np.array([np.nan]), 1e-7).ok
    assert relative_error("x", np.array([np.inf]), np.array([np.inf]), 1e-7).ok
    assert not relative_error("x", np.array([np.inf]), np.array([-np.inf]), 1e-7).ok


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_identical_arrays_have_zero_error(a):
    assert relative_error("a", a, a.copy(), 0.0).error == 0.0


def test_gradient_floor_forgives_numeric_noise_on_zero_entries_only():
    analytic = np.array([1.0, 0.0])
    noisy = np.array([1.0, 1e-11])
    assert relative_error("g", analytic, noisy, 1e-6).error > 1e-6  # CS231n floor: too strict
    assert gradient_error("g", analytic, noisy, 1e-6).ok
    wrong = np.array([1.1, 0.0])
    assert not gradient_error("g", analytic, wrong, 1e-6).ok


def test_numeric_gradients_of_a_quadratic():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)

    def evaluate(points):
        return [float(p @ A @ p) for p in points]

    exact = (A + A.T) @ x
    full = numgrad.elementwise(evaluate, x)
    assert np.allclose(full.values, exact, rtol=1e-8)
    assert 0 < full.roundoff < 1e-8
    dirs = numgrad.random_directions(rng, x.shape, 3)
    assert np.allclose(np.linalg.norm(dirs, axis=1), 1.0)
    assert np.allclose(numgrad.directional(evaluate, x, dirs).values, dirs @ exact, rtol=1e-7)


def test_roundoff_slack_forgives_only_tiny_differences():
    analytic = np.array([1.97651168e-06, 0.17])
    numeric = np.array([1.97646344e-06, 0.17])  # a real case: 5e-11 of cancellation noise
    assert not gradient_error("g", analytic, numeric, 1e-6).ok
    assert gradient_error("g", analytic, numeric, 1e-6, roundoff=2e-8).ok
    assert not gradient_error("g", analytic, numeric * 1.01, 1e-6, roundoff=2e-8).ok

"""The CS231n relative error, its worst index, and the gradient variant's floor."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.checks.diagnose import _same_or_both_nonfinite
from grader.judge import numgrad
from grader.judge.compare import exact_ratio, gradient_error, relative_error


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


# Single numbers take a path without arrays (``_scalar_relative_error``): it must agree with
# the array arithmetic exactly, NaN, infinities, signed zeros, subnormals and overflow included.
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 1e-300, 1e300, 5e-324]),
    st.integers(-5, 5).map(float),
)


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (np.isnan(a) and np.isnan(b)) or (a == b and np.signbit(a) == np.signbit(b))


def _same_comparison(one, other) -> None:
    assert _same_number(one.error, other.error), (one, other)
    assert _same_number(one.got_value, other.got_value)
    assert _same_number(one.expected_value, other.expected_value)
    assert _same_number(one.ratio, other.ratio), (one, other)
    assert (one.ok, one.metric, one.tolerance) == (other.ok, other.metric, other.tolerance)


@given(
    NUMBERS,
    NUMBERS,
    st.sampled_from([1e-8, 1e-30, 0.0, 1.0]),
    st.sampled_from([0.0, 1e-12, 1.0]),
    st.sampled_from([0.0, 1e-7, 0.5]),
)
def test_a_single_number_compares_as_a_one_element_array(g, e, floor, slack, tol):
    scalar = relative_error("x", np.float64(g), np.float64(e), tol, floor=floor, slack=slack)
    array = relative_error("x", np.array([g]), np.array([e]), tol, floor=floor, slack=slack)
    assert scalar.worst_index == () and array.worst_index == (0,)
    _same_comparison(scalar, array)
    assert _same_number(exact_ratio(np.float64(g), np.float64(e)), exact_ratio([g], [e]))


INTEGERS = st.one_of(st.integers(-5, 5), st.integers(-(2**63), 2**63 - 1))
TYPED_PAIRS = st.one_of(
    st.tuples(st.just(np.float64), NUMBERS, NUMBERS),
    st.tuples(st.just(np.int64), INTEGERS, INTEGERS),
    st.tuples(st.just(np.bool_), st.booleans(), st.booleans()),
)


@given(TYPED_PAIRS)
def test_a_mistakes_single_number_matches_as_a_one_element_array(pair):
    dtype, g, e = pair
    scalar = _same_or_both_nonfinite("x", np.array(g, dtype), np.array(e, dtype), 1e-6)
    array = _same_or_both_nonfinite("x", np.array([g], dtype), np.array([e], dtype), 1e-6)
    _same_comparison(scalar, array)

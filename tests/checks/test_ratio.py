"""A wrong output that is an exact multiple of the expected one is said to be ("yours is exactly
8 times the expected value"): the sum where a mean was asked, a factor 2 missing, a sign."""

from __future__ import annotations

import numpy as np
import pytest
from mutation import Mutant, grade_mutant

from grader.checks.base import Context
from grader.checks.diagnose import Observation, compare_outputs, mismatch_verdict
from grader.judge.compare import exact_ratio, relative_error

RNG = np.random.default_rng(12)
EXPECTED = RNG.standard_normal((4, 3)) + 0.1


@pytest.mark.parametrize(
    "got, want, ratio",
    [
        (8 * EXPECTED, EXPECTED, 8.0),
        (EXPECTED / 8, EXPECTED, 1 / 8),
        (-EXPECTED, EXPECTED, -1.0),
        (2.5 * EXPECTED, EXPECTED, 2.5),  # an array: any constant ratio says something
        (np.array([0.0, 3.0, 6.0]), np.array([0.0, 1.0, 2.0]), 3.0),  # 0 and 0 agree with any c
        (np.float64(12.0), np.float64(1.5), 8.0),  # one value: a whole number
        (np.float64(0.25), np.float64(1.0), 0.25),  # or its reciprocal
    ],
)
def test_exact_ratios_are_found(got, want, ratio):
    assert exact_ratio(got, want) == pytest.approx(ratio, rel=1e-12)


@pytest.mark.parametrize(
    "got, want",
    [
        (EXPECTED * np.linspace(2, 3, 12).reshape(4, 3), EXPECTED),  # not one constant
        (8 * EXPECTED + np.eye(4, 3) * 1e-6, EXPECTED),  # off by more than the spread allowed
        (np.array([1.0, 2.0]), np.array([0.0, 1.0])),  # expected 0 where yours is not
        (np.array([np.nan, 2.0]), np.array([1.0, 1.0])),
        (np.array([np.inf, 2.0]), np.array([1.0, 1.0])),
        (np.zeros(3), EXPECTED[0]),  # all zeros is not "0 times"
        (np.float64(0.0), np.float64(3.0)),  # one zero against a value: 1 / 0 is no ratio
        (np.float64(1e-320), np.float64(3.0)),  # its reciprocal overflows
        (np.float64(2.3), np.float64(1.0)),  # one value always has some ratio: not a whole one
        (EXPECTED, EXPECTED),  # the same
        (np.zeros((2, 3)), np.zeros((3, 2))),  # shapes differ
    ],
)
def test_no_ratio_where_there_is_none(got, want):
    assert exact_ratio(got, want) is None


def verdict_for(got: np.ndarray, want: np.ndarray) -> str:
    ctx = Context("t", None, None, RNG, misconceptions=())  # no known mistake to match
    seen = Observation("f", "f(x (4, 3))", (), (got,), ("out",), (want,))
    comparisons = compare_outputs(("out",), (got,), (want,), 1e-7)
    return mismatch_verdict(ctx, seen, comparisons, 1e-7, "the reference").message


def test_the_feedback_says_a_whole_multiple():
    message = verdict_for(8 * EXPECTED, EXPECTED)
    assert "f(x (4, 3)): out differs from the reference." in message
    assert (
        "  yours is exactly 8 times the expected value (a sum instead of a mean? "
        "a missing or extra factor?)"
    ) in message.splitlines()


def test_the_feedback_says_a_fraction_and_a_sign():
    assert "yours is exactly 1/8 of the expected value" in verdict_for(EXPECTED / 8, EXPECTED)
    assert "exactly -1/4 of the expected value" in verdict_for(-EXPECTED / 4, EXPECTED)
    assert "exactly the negative of the expected value (a sign error?)" in verdict_for(
        -EXPECTED, EXPECTED
    )
    assert "exactly 2.5 times the expected value" in verdict_for(2.5 * EXPECTED, EXPECTED)


def test_no_ratio_line_for_an_ordinary_error():
    got = EXPECTED.copy()
    got[1, 2] += 0.5
    message = verdict_for(got, EXPECTED)
    assert "differs from the reference" in message and "exactly" not in message


def test_only_failed_comparisons_carry_a_ratio():
    assert relative_error("x", EXPECTED * (1 + 1e-9), EXPECTED, 1e-7).ratio is None
    assert relative_error("x", 3 * EXPECTED, EXPECTED, 1e-7).ratio == pytest.approx(3)


def test_a_graded_gradient_not_averaged_is_called_n_times_too_large(course, tmp_path):
    # softmax_loss with dx left as a sum: the loss is right, dx is N times the mean's gradient,
    # a mistake with no name of its own
    mutant = Mutant("losses", "softmax_loss", "    dx /= num_train\n", "")
    results = {r.check_id: r for r in grade_mutant(course, tmp_path, mutant)}
    result = results["losses/softmax_loss: random N=10 C=5"]
    assert not result.passed and result.misconception is None
    assert "dx differs from the reference" in result.message
    assert "yours is exactly 10 times the expected value" in result.message  # N = 10

"""Outputs that are lists of arrays (the parallel topic's chunks and buffers): a list or tuple of
as many items is accepted, and every item is conformed like a top-level output."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.base import CheckFailed, Outcome
from grader.checks.outputs import conform, describe_value


def test_a_list_or_tuple_of_as_many_arrays_conforms():
    expected = [np.zeros(3), np.zeros((2, 2))]
    conform([np.ones(3), np.ones((2, 2))], expected, "buffers")
    conform((np.ones(3), np.ones((2, 2))), expected, "buffers")


@pytest.mark.parametrize(
    "got, words",
    [
        ([np.ones(3)], "expected a list of 2 values"),
        (np.ones(3), "expected a list of 2 values"),
        ([np.ones(3), np.ones((2, 3))], "buffers[1]: expected shape (2, 2)"),
        ([np.ones(3, dtype=np.float32), np.ones((2, 2))], "buffers[0]: expected dtype float64"),
    ],
)
def test_a_wrong_list_is_bad_output(got, words):
    with pytest.raises(CheckFailed) as caught:
        conform(got, [np.zeros(3), np.zeros((2, 2))], "buffers")
    assert caught.value.verdict.outcome is Outcome.BAD_OUTPUT
    assert words in caught.value.verdict.message


def test_a_list_argument_is_described_by_its_length():
    assert describe_value([[np.zeros(2)] * 3] * 3) == "[3 items]"

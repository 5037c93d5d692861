"""The release's data format: trees of plain data round-trip exactly, types included; anything
else is refused rather than approximated."""

from __future__ import annotations

import numpy as np
import pytest

from grader.release.data import Encoder, Unrecordable, decode


def test_round_trip_keeps_values_and_types() -> None:
    value = (
        np.arange(6.0).reshape(2, 3),
        np.array(2.5),  # 0-d stays 0-d
        np.float32(1.25),
        1.0 / 3.0,
        float("nan"),
        -0.0,
        7,
        2**80,
        True,
        None,
        "text",
        [1, (2, 3)],
        {"mode": "train", 3: np.ones(2, dtype=np.int8)},
    )
    enc = Encoder()
    back = decode(enc.encode(value), enc.arrays)
    assert type(back) is tuple and len(back) == len(value)
    for got, want in zip(back, value):
        assert type(got) is type(want)
    assert np.array_equal(back[0], value[0]) and back[1].shape == ()
    assert back[2].dtype == np.float32 and back[3] == value[3] and np.isnan(back[4])
    assert str(back[5]) == "-0.0" and back[7] == 2**80
    assert back[11] == [1, (2, 3)] and back[12]["mode"] == "train"
    assert back[12][3].dtype == np.int8


def test_decoded_arrays_are_fresh() -> None:
    enc = Encoder()
    tree = enc.encode(np.zeros(3))
    decode(tree, enc.arrays)[0] = 5.0
    assert decode(tree, enc.arrays)[0] == 0.0


@pytest.mark.parametrize("value", [object(), np.array([object()]), lambda: 1, {1, 2}])
def test_what_is_not_plain_data_is_refused(value) -> None:
    with pytest.raises(Unrecordable):
        Encoder().encode(value)

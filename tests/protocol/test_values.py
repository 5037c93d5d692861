"""Value trees: plain data only; anything else arrives as an inert description."""

from __future__ import annotations

import numpy as np
import pytest

from grader.protocol.values import Handle, Other, RngSeed, from_wire, to_wire
from grader.protocol.wire import ProtocolError


def roundtrip(value, keep=None):
    blobs: list[np.ndarray] = []
    node = to_wire(value, blobs, keep)
    return from_wire(node, blobs)


def test_plain_values_round_trip():
    value = (1, 2.5, None, True, "s", [np.arange(3.0)], {"a": np.float32(1.5), "b": (np.int64(3),)})
    got = roundtrip(value)
    assert got[:5] == (1, 2.5, None, True, "s")
    assert np.array_equal(got[5][0], np.arange(3.0))
    assert got[6]["a"].dtype == np.float32 and got[6]["a"] == 1.5
    assert got[6]["b"][0].dtype == np.int64


class Lying(np.ndarray):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "value, note",
    [
        (np.zeros(3).view(Lying), "subclass"),
        (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "subclass"),
        (np.array([object()], dtype=object), "dtype"),
        (np.zeros(2, dtype=[("a", "<f8")]), "dtype"),
        (object(), "not plain data"),
        ({1: 2}, "not plain data"),
    ],
)
def test_non_plain_values_become_other(value, note):
    got = roundtrip(value)
    assert isinstance(got, Other) and note in got.note


def test_keep_turns_objects_into_handles():
    store = []
    got = roundtrip(object(), keep=lambda obj: store.append(obj) or len(store))
    assert isinstance(got, Handle) and got.id == 1


def test_rng_and_handles_resolve_on_the_worker_side():
    blobs: list[np.ndarray] = []
    node = to_wire((RngSeed(7), Handle(3, "tuple")), blobs)
    rng, obj = from_wire(node, blobs, resolve={3: "cache"}.__getitem__)
    assert obj == "cache"
    assert rng.integers(1000) == np.random.default_rng(7).integers(1000)


@pytest.mark.parametrize(
    "node",
    [
        {"t": "pickle", "v": "..."},
        {"t": "array", "blob": 5},
        {"t": "int", "v": True},
        {"t": "dict", "items": [[1, {"t": "none"}]]},
        {"t": "tuple", "items": "no"},
        "not a node",
    ],
)
def test_malformed_nodes_are_refused(node):
    with pytest.raises(ProtocolError):
        from_wire(node, [])


def test_huge_trees_are_refused():
    node = {"t": "list", "items": [{"t": "none"}] * 200_000}
    with pytest.raises(ProtocolError, match="too many"):
        from_wire(node, [])

"""Value trees: plain data only; anything else arrives as an inert description."""

from __future__ import annotations

import numpy as np
import pytest

from grader.protocol.values import (
    MAX_DEPTH,
    MAX_STR,
    Handle,
    Other,
    RngSeed,
    Workload,
    from_wire,
    request_decoder,
    to_wire,
)
from grader.protocol.wire import ProtocolError


def roundtrip(value):
    blobs: list[np.ndarray] = []
    node = to_wire(value, blobs)
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


def test_handles_stay_handles_in_a_reply():
    got = roundtrip((Handle(3, "tuple"),))
    assert got == (Handle(3, "tuple"),)


@pytest.mark.parametrize("value", [RngSeed(7), Workload("sim_kernel", (("duration_ms", 2.0),))])
def test_a_reply_cannot_hold_generators_or_workloads(value):
    """Seeds and workloads only travel judge -> worker; in a reply they are malformed."""
    node = to_wire(value, [])
    with pytest.raises(ProtocolError, match="a reply cannot hold"):
        from_wire(node, [])


def test_rng_and_handles_resolve_on_the_worker_side():
    blobs: list[np.ndarray] = []
    node = to_wire((RngSeed(7), Handle(3, "tuple")), blobs)
    rng, obj = from_wire(node, blobs, request_decoder({3: "cache"}.__getitem__))
    assert obj == "cache"
    assert rng.integers(1000) == np.random.default_rng(7).integers(1000)


def test_a_worker_without_a_builder_refuses_workloads():
    node = to_wire(Workload("matmul", (("n", 8.0),)), [])
    with pytest.raises(ProtocolError, match="cannot build"):
        from_wire(node, [], request_decoder({}.__getitem__))


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


def _nested(depth: int) -> dict:
    node: dict = {"t": "none"}
    for _ in range(depth):
        node = {"t": "list", "items": [node]}
    return node


def test_deep_trees_are_refused_before_recursing_further():
    assert from_wire(_nested(MAX_DEPTH), []) is not None
    with pytest.raises(ProtocolError, match="nested more than"):
        from_wire(_nested(MAX_DEPTH + 1), [])
    with pytest.raises(ProtocolError, match="nested more than"):
        from_wire(_nested(50_000), [])  # RecursionError without the limit


def test_deep_values_are_refused_when_encoded():
    value: list = []
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(ProtocolError, match="nested more than"):
        to_wire(value, [])


def test_long_strings_and_keys_are_refused():
    with pytest.raises(ProtocolError, match="characters"):
        from_wire({"t": "str", "v": "x" * (MAX_STR + 1)}, [])
    with pytest.raises(ProtocolError, match="characters"):
        from_wire({"t": "dict", "items": [["k" * (MAX_STR + 1), {"t": "none"}]]}, [])

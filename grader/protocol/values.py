"""Plain-data value trees exchanged between judge and worker.

Each node is a small JSON object with a type tag ``t``:
``none``, ``bool``, ``int``, ``float``, ``str``, ``array`` (index into the frame's blobs),
``scalar`` (a numpy scalar, sent as a 0-d blob), ``tuple``, ``list``, ``dict`` (string keys),
``rng`` (a seed the worker turns into ``numpy.random.default_rng``), ``workload`` (a judge-chosen
workload, named by a kind and numeric parameters, that the worker builds as a callable:
callables cannot cross), ``handle`` (an object that stays inside the worker) and ``other``
(something that cannot be sent: its type name only).

``to_wire`` encodes on either side. ``from_wire`` decodes strictly: an unknown tag, a bad index
or a tree that is too big is a ``ProtocolError``. What the references in a tree become is the
``Decoder``'s business: ``REPLY`` (the judge reading a reply: handles stay ``Handle`` values, and
a reply may not hold generators or workloads) or ``request_decoder`` (the worker reading a
request: handles resolve to its stored objects, seeds become generators, workloads are built).
Which workload kinds exist, and what they run, is up to the builder; this layer knows none.
Nothing is unpickled, evaluated or imported by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from grader.protocol.wire import ALLOWED_DTYPES, ProtocolError

MAX_NODES = 100_000
MAX_STR = 10_000
# Nesting of a value tree (a tuple in a list in a dict ... counts one per level): far beyond any
# signature of the course, and well inside ``wire.MAX_HEADER_DEPTH``, so that a reply that
# passes the frame's check is decoded without deep recursion.
MAX_DEPTH = 64


@dataclass(frozen=True)
class Handle:
    """An object that lives in the worker (a forward pass's cache, a model instance)."""

    id: int
    type_name: str


@dataclass(frozen=True)
class Other:
    """A returned value that is not plain data; only its type name and a short note travel."""

    type_name: str
    note: str


@dataclass(frozen=True)
class RngSeed:
    """Asks the worker to pass ``numpy.random.default_rng(seed)`` as this argument."""

    seed: int


MAX_WORKLOAD_PARAMS = 16
MAX_NAME = 40  # characters of a workload kind or parameter name


@dataclass(frozen=True)
class Workload:
    """Asks the worker to pass a callable that runs this workload (``kind`` and numeric
    ``params``; the worker's builder decides what a kind means)."""

    kind: str
    params: tuple[tuple[str, float], ...] = ()

    def param(self, name: str, default: float = 0.0) -> float:
        return dict(self.params).get(name, default)


def _workload(node: dict[str, Any]) -> Workload:
    kind, params = node.get("kind"), node.get("params")
    if not (isinstance(kind, str) and kind.isidentifier() and len(kind) <= MAX_NAME):
        raise ProtocolError(f"bad workload kind {kind!r:.40}")
    if not isinstance(params, list) or len(params) > MAX_WORKLOAD_PARAMS:
        raise ProtocolError("bad workload parameters")
    items = []
    for pair in params:
        ok = isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
        if not ok or type(pair[1]) not in (int, float) or not np.isfinite(pair[1]):
            raise ProtocolError("bad workload parameter")
        items.append((pair[0][:MAX_NAME], float(pair[1])))
    return Workload(kind, tuple(items))


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _array_problem(arr: np.ndarray) -> str | None:
    if type(arr) is not np.ndarray:
        return f"an ndarray subclass ({_type_name(arr)}), not a plain numpy.ndarray"
    if arr.dtype.fields is not None or arr.dtype.str not in ALLOWED_DTYPES:
        return f"an array of dtype {arr.dtype}, not a numeric dtype"
    return None


def to_wire(
    value: Any, blobs: list[np.ndarray], _budget: list[int] | None = None, _depth: int = 0
) -> dict[str, Any]:
    """Encode ``value`` as a node, appending arrays to ``blobs``; a value that is not plain
    data becomes an ``other`` node (its type name only). The worker keeps objects behind
    handles itself, for the result positions the judge asked it to keep. More than
    ``MAX_NODES`` parts or ``MAX_DEPTH`` levels: ``ProtocolError``."""
    budget = _budget if _budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise ProtocolError("value has too many parts")
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"value nested more than {MAX_DEPTH} levels deep")
    if value is None:
        return {"t": "none"}
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if type(value) is int:
        return {"t": "int", "v": value} if abs(value) < 2**63 else {"t": "float", "v": float(value)}
    if type(value) is float:
        return {"t": "float", "v": value}
    if type(value) is str:
        return {"t": "str", "v": value[:MAX_STR]}
    if isinstance(value, Handle):
        return {"t": "handle", "id": value.id, "type": value.type_name}
    if isinstance(value, RngSeed):
        return {"t": "rng", "seed": value.seed}
    if isinstance(value, Workload):
        return {"t": "workload", "kind": value.kind, "params": [list(p) for p in value.params]}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        arr = np.asarray(value)
        if arr.dtype.str in ALLOWED_DTYPES:
            blobs.append(arr)
            return {"t": "scalar", "blob": len(blobs) - 1}
    if isinstance(value, np.ndarray):
        problem = _array_problem(value)
        if problem is None:
            blobs.append(value)
            return {"t": "array", "blob": len(blobs) - 1}
        return {"t": "other", "type": _type_name(value), "note": problem}
    if type(value) in (tuple, list):
        tag = "tuple" if type(value) is tuple else "list"
        return {"t": tag, "items": [to_wire(v, blobs, budget, _depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {
            "t": "dict",
            "items": [
                [k[:MAX_STR], to_wire(v, blobs, budget, _depth + 1)] for k, v in value.items()
            ],
        }
    return {"t": "other", "type": _type_name(value), "note": "not plain data"}


@dataclass(frozen=True)
class Decoder:
    """What ``from_wire`` makes of the references in a tree: a handle, a seed, a workload."""

    handle: Callable[[Handle], Any]
    rng: Callable[[RngSeed], Any]
    workload: Callable[[Workload], Any]
    shared: Callable[[int, str, list[int]], Any] = field(default=lambda *_: _no_shared())


def _refuse(what: str) -> Callable[[Any], Any]:
    def refuse(value: Any) -> Any:
        raise ProtocolError(f"a reply cannot hold {what}")

    return refuse


# The judge reading a worker's reply: objects the worker kept stay handles (ids it can send
# back); generators and workloads only ever travel from the judge to the worker.
REPLY = Decoder(handle=lambda h: h, rng=_refuse("a generator"), workload=_refuse("a workload"))


def request_decoder(
    resolve: Callable[[int], Any],
    build: Callable[[Workload], Any] | None = None,
    shared: Callable[[int, str, list[int]], Any] | None = None,
) -> Decoder:
    """The worker reading a judge's request: handle ids map back to the stored objects
    (``resolve``), seeds become ``numpy.random.default_rng`` generators, and ``build`` turns a
    workload into the callable that runs it (without a builder, a workload is refused)."""
    decoder = Decoder(
        handle=lambda h: resolve(h.id),
        rng=lambda r: np.random.default_rng(r.seed),
        workload=build or _refuse_workload,
    )
    return replace(decoder, shared=shared) if shared is not None else decoder


def _no_shared() -> Any:
    raise ProtocolError("no shared memory here: a reply cannot hold a shared array")


def _refuse_workload(workload: Workload) -> Any:
    raise ProtocolError(f"this worker cannot build a {workload.kind!r:.40} workload")


def from_wire(
    node: Any,
    arrays: list[np.ndarray],
    decoder: Decoder = REPLY,
    _budget: list[int] | None = None,
    _depth: int = 0,
) -> Any:
    """Decode a node; ``decoder`` says what its handles, seeds and workloads become. More than
    ``MAX_NODES`` nodes, ``MAX_DEPTH`` levels or ``MAX_STR`` characters in a string:
    ``ProtocolError`` (the depth is checked before descending, so no recursion goes deeper)."""
    budget = _budget if _budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise ProtocolError("value has too many parts")
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"value nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise ProtocolError(f"bad value node {node!r:.200}")
    tag = node["t"]
    if tag == "none":
        return None
    if tag in ("bool", "int", "float", "str"):
        v = node.get("v")
        expected = {"bool": bool, "int": int, "float": (float, int), "str": str}[tag]
        if not isinstance(v, expected) or (tag == "int" and type(v) is bool):
            raise ProtocolError(f"bad {tag} value")
        if tag == "str" and len(v) > MAX_STR:
            raise ProtocolError(f"string of {len(v)} characters, more than {MAX_STR}")
        return float(v) if tag == "float" else v
    if tag in ("array", "scalar"):
        idx = node.get("blob")
        if type(idx) is not int or not 0 <= idx < len(arrays):
            raise ProtocolError("bad array reference")
        arr = arrays[idx]
        if tag == "scalar":
            if arr.ndim != 0:
                raise ProtocolError("scalar blob is not 0-d")
            return arr[()]
        return arr
    if tag in ("tuple", "list"):
        items = node.get("items")
        if not isinstance(items, list):
            raise ProtocolError("bad sequence")
        out = [from_wire(v, arrays, decoder, budget, _depth + 1) for v in items]
        return tuple(out) if tag == "tuple" else out
    if tag == "dict":
        items = node.get("items")
        if not isinstance(items, list):
            raise ProtocolError("bad dict")
        result = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ProtocolError("bad dict item")
            if len(pair[0]) > MAX_STR:
                raise ProtocolError(f"dict key of {len(pair[0])} characters, more than {MAX_STR}")
            result[pair[0]] = from_wire(pair[1], arrays, decoder, budget, _depth + 1)
        return result
    if tag == "handle":
        hid = node.get("id")
        if type(hid) is not int:
            raise ProtocolError("bad handle")
        return decoder.handle(Handle(hid, str(node.get("type", "?"))[:200]))
    if tag == "rng":
        seed = node.get("seed")
        if type(seed) is not int:
            raise ProtocolError("bad rng seed")
        return decoder.rng(RngSeed(seed))
    if tag == "workload":
        return decoder.workload(_workload(node))
    if tag == "shared":  # an argument over the judge's arena (grader.protocol.arena)
        offset, dtype, shape = node.get("offset"), node.get("dtype"), node.get("shape")
        if (
            type(offset) is not int
            or offset < 0
            or dtype not in ALLOWED_DTYPES
            or not isinstance(shape, list)
            or not all(type(n) is int and n >= 0 for n in shape)
        ):
            raise ProtocolError("bad shared array")
        try:
            return decoder.shared(offset, dtype, shape)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"bad shared array: {exc}") from None
    if tag == "other":
        return Other(str(node.get("type", "?"))[:200], str(node.get("note", ""))[:500])
    raise ProtocolError(f"unknown value tag {tag!r:.40}")

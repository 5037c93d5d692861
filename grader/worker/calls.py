"""Evaluates the judge's requests inside the worker: import the student module, call, keep handles.

Requests (``header["op"]``):
- ``load``: execute the student module; reply with its public functions and their parameters.
- ``call``: ``fn`` (module attribute) or ``target`` + ``method`` (a handle's method), ``args`` and
  ``kwargs`` as value nodes, ``keep`` (top-level result positions stored as handles, or
  ``"all"``), ``echo`` (argument positions to send back after the call, to detect mutation),
  ``pick`` (return only this position of a tuple result, e.g. a forward pass's ``out``),
  ``assign`` (``[attr, key, value]`` items set on the target before a method call).
- ``getattr``: read ``target.attr``.
- ``batch``: a list of ``call`` requests, answered together.
- ``seed``: seed the global ``numpy.random`` and ``random`` generators (per check, from the judge,
  usually folded into the check's first request as its ``seed`` key,
  so that student code drawing from them grades the same every time).
- ``stream`` (answered in ``grader.worker.main.serve``): a list of ``call`` and ``batch``
  requests, each answered by a frame of its own (``part``: its index) as soon as it is done, so
  the judge sends a topic's planned calls at once (``grader.judge.plan``). A request's ``snap``
  keeps the generators' state after it; a later request's ``restore`` puts that state back
  first (the judge's first live call of a check whose first calls came from a stream).
These are all the requests the judge sends (``grader.judge.student``); anything else is refused.

A ``setup`` (from the judge's worker config) is applied at ``load``, before the student module
runs: ``simulated_cuda`` installs the simulated GPU's proxy and clocks (``grader.sim.install``),
which ask the judge during a call whose header has ``"ask": true`` (``grader.worker.ask``);
it and ``cuda`` also say how ``workload`` arguments become callables.
"""

from __future__ import annotations

import inspect
import random
import sys
import traceback
import types
from collections.abc import Iterator
from time import perf_counter as _clock  # the real clock: a setup may replace time's clocks
from typing import Any

import numpy as np

from grader.protocol.arena import view as arena_view
from grader.protocol.values import Decoder, from_wire, request_decoder, to_wire
from grader.worker.ask import Channel

TRACEBACK_CHARS = 6000


class Evaluator:
    def __init__(
        self,
        module_name: str,
        module_path: str,
        source: str,
        setup: str = "",
        arena: Any = None,
        channel: Channel | None = None,
    ) -> None:
        self.module_name = module_name
        self.setup = setup
        self.channel = channel  # questions to the judge during a call (the simulated GPU)
        self.shared = (lambda o, d, s: arena_view(arena, o, d, s)) if arena is not None else None
        # workloads are built once set up
        self.decoder: Decoder = request_decoder(self.resolve, shared=self.shared)
        self.module_path = module_path
        self.source = source
        self.module: types.ModuleType | None = None
        self.handles: dict[int, Any] = {}
        self.next_id = 1
        self.snapshots: dict[int, tuple] = {}  # stream index -> generators' state after it
        self.last_snapshot: tuple | None = None

    # -- helpers -----------------------------------------------------------------------------
    def keep(self, obj: Any) -> int:
        hid = self.next_id
        self.next_id += 1
        self.handles[hid] = obj
        return hid

    def resolve(self, hid: int) -> Any:
        if hid not in self.handles:
            raise LookupError(f"unknown handle {hid}")
        return self.handles[hid]

    @staticmethod
    def describe(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, NotImplementedError):
            kind = "not_implemented"
        elif isinstance(exc, MemoryError):
            kind = "memory"
        elif isinstance(exc, SystemExit):
            kind = "exit"
        else:
            kind = "exception"
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            message = str(exc)[:2000]
        except Exception:
            message = "<str() of the exception failed>"
        return {
            "kind": kind,
            "type": type(exc).__name__,
            "message": message,
            "traceback": tb[-TRACEBACK_CHARS:],
        }

    # -- ops ---------------------------------------------------------------------------------
    def dispatch(self, header: dict[str, Any], arrays: list[np.ndarray], blobs: list) -> dict:
        if "restore" in header:  # the generators as a stream left them after one of its calls
            restored = self._restore(header["restore"])
            if not restored.get("ok"):
                return restored
        if "seed" in header and header.get("op") != "seed":  # a check's seed, sent along
            seeded = self._one({"op": "seed", "seed": header["seed"]}, arrays, blobs)
            if not seeded.get("ok"):
                return seeded
        op = header.get("op")
        if op == "batch":
            return {"ok": True, "results": [self._one(h, arrays, blobs) for h in header["ops"]]}
        return self._one(header, arrays, blobs)

    def stream(
        self, header: dict[str, Any], arrays: list[np.ndarray]
    ) -> Iterator[tuple[dict, list]]:
        """The requests of a ``stream``, in order: (reply, blobs) for each, yielded as each is
        done (so that it is sent before the next one runs). After each, the state of the
        global generators is kept by its index (shared with the previous one when no call
        drew from them), for a later request's ``restore``."""
        ops = header.get("ops")
        if not isinstance(ops, list):
            yield {"ok": False, "error": _protocol_error("a stream without a list of ops")}, []
            return
        for sub in ops:
            blobs: list[np.ndarray] = []
            sub = sub if isinstance(sub, dict) else {}
            reply = self.dispatch(sub, arrays, blobs)
            self._snapshot(sub.get("snap"))
            yield reply, blobs

    def _snapshot(self, index: Any) -> None:
        if type(index) is not int:
            return
        state = (np.random.get_state(), random.getstate())
        last = self.last_snapshot
        if last is not None and _same_state(last, state):
            state = last  # one copy for a run of calls that drew nothing
        self.snapshots[index] = self.last_snapshot = state

    def _restore(self, index: Any) -> dict:
        state = self.snapshots.get(index) if type(index) is int else None
        if state is None:
            return {"ok": False, "error": _protocol_error(f"no kept state {index!r:.40}")}
        np.random.set_state(state[0])
        random.setstate(state[1])
        return {"ok": True}

    def _one(self, header: dict[str, Any], arrays: list[np.ndarray], blobs: list) -> dict:
        try:
            op = header.get("op")
            if op == "load":
                return self.load()
            if op == "call":
                return self.call(header, arrays, blobs)
            if op == "getattr":
                value = getattr(self.resolve(header["target"]), header["attr"])
                return {"ok": True, "value": to_wire(value, blobs)}
            if op == "seed":  # student code may use the global generators (np.random.randn)
                np.random.seed(header["seed"])
                random.seed(header["seed"])
                return {"ok": True}
            return {"ok": False, "error": _protocol_error(f"unknown op {op!r}")}
        except BaseException as exc:  # noqa: BLE001 (student code may raise SystemExit & co.)
            return {"ok": False, "error": self.describe(exc)}

    def load(self) -> dict[str, Any]:
        if self.setup:
            from grader.sim.install import workload_builder

            self.decoder = request_decoder(
                self.resolve, workload_builder(self.setup, self.channel), shared=self.shared
            )
        module = types.ModuleType(self.module_name)
        module.__file__ = self.module_path
        sys.modules[self.module_name] = module
        started = _clock()
        code = compile(self.source, self.module_path, "exec", dont_inherit=True)
        exec(code, module.__dict__)
        self.module = module
        functions = {}
        for name, obj in list(vars(module).items()):
            if name.startswith("_") or not callable(obj):
                continue
            if getattr(obj, "__module__", None) != self.module_name:
                continue  # imported names (np, typing helpers) are not the student's functions
            functions[name] = {
                "kind": "class" if isinstance(obj, type) else "function",
                "params": _params(obj),
            }
        return {"ok": True, "functions": functions, "elapsed": _clock() - started}

    def call(self, header: dict[str, Any], arrays: list[np.ndarray], blobs: list) -> dict:
        if "target" in header:
            target = self.resolve(header["target"])
            for attr, key, node in header.get("assign", []):
                getattr(target, attr)[key] = from_wire(node, arrays, self.decoder)
            func = getattr(target, header["method"])
        else:
            if self.module is None:
                raise RuntimeError("module not loaded")
            func = getattr(self.module, header["fn"])
        args = [from_wire(a, arrays, self.decoder) for a in header.get("args", [])]
        kwargs = {
            k: from_wire(v, arrays, self.decoder) for k, v in header.get("kwargs", {}).items()
        }
        started = _clock()
        if self.channel is None:
            result = func(*args, **kwargs)
        else:
            with self.channel.during(header):
                result = func(*args, **kwargs)
        elapsed = _clock() - started
        pick = header.get("pick")
        if pick is not None and type(result) is tuple and len(result) > pick:
            result = result[pick]
        keep = header.get("keep", [])
        if keep == "all":  # e.g. a constructed model: the object stays here
            value = (
                {"t": "handle", "id": self.keep(result), "type": type(result).__name__}
                if result is not None
                else {"t": "none"}
            )
        elif keep and type(result) is tuple and len(result) > max(keep):
            items = [
                {"t": "handle", "id": self.keep(v), "type": type(v).__name__}
                if i in keep
                else to_wire(v, blobs)
                for i, v in enumerate(result)
            ]
            value = {"t": "tuple", "items": items}
        else:
            value = to_wire(result, blobs)
        echo = [to_wire(args[i], blobs) for i in header.get("echo", [])]
        return {"ok": True, "value": value, "echo": echo, "elapsed": elapsed}


def _params(obj: Any) -> list[list[str]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [
        [p.name, p.kind.name, "default" if p.default is not p.empty else ""]
        for p in sig.parameters.values()
    ]


def _protocol_error(message: str) -> dict[str, Any]:
    return {"kind": "protocol", "type": "ValueError", "message": message, "traceback": ""}


def _same_state(a: tuple, b: tuple) -> bool:
    """Two (numpy, random) generator states alike (numpy's: name, key, position, gauss)."""
    (na, ra), (nb, rb) = a, b
    return ra == rb and na[0] == nb[0] and na[2:] == nb[2:] and bool(np.array_equal(na[1], nb[1]))

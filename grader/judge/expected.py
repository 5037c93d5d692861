"""The reference's answers as data: computed once, kept, replayed for every later submission.

Every student of a course gets the same inputs for a check (they come from the course secret and
the check id), so the reference's outputs on them are the same for every submission. A
``CachedReference`` stands where the reference module stood (``Context.ref``): calling one of
its functions with arguments that are plain data (arrays, numbers, strings, generators, and
tuples, lists and dicts of them) looks the call up by the bytes of those arguments (and, for a
call that drew from numpy's global generator, of that generator's state before it); on a miss
the reference runs (imported only then: a course graded from its cache never imports torch for
a torch topic's reference) and the answer is kept. A hit replays everything the call did that a
caller can see: its result (a fresh copy), what it wrote into its arguments (``bn_param``'s
running statistics, an optimizer's ``config``, a generator's state) and the global generator's
state after it. Answers that cost less to compute than to look up are not kept (``Store``).

Anything that is not plain data (a torch module, a handle, a callable) is not looked up: the
reference runs, as it always did. Classes and constants of the module are the module's own.

The answers are kept in memory for the batch and on disk between runs (``Store``), in a folder the
workers cannot see (``grader.pipeline.sandbox_for`` hides it), one file per topic whose name
carries a version: a hash of the reference solution's source, the topic's own check code, and
the numpy and torch versions. Any change to those starts a new file; nothing stale is replayed.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import hmac
import importlib.metadata
import inspect
import os
import pickle
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

MISS = object()
CHEAP_CALLS = 8  # calls of one function under ``Store.min_seconds``: then it runs live only
LARGEST = 1 << 20  # bytes: a larger answer (dropout's big masks) is cheaper to recompute


class Uncacheable(Exception):
    """An argument is not plain data: the call is not looked up."""


def _feed(h: Any, value: Any) -> None:
    """Feed a canonical encoding of ``value`` into the hash ``h``; raise Uncacheable."""
    kind = type(value)
    if value is None or kind is bool:
        h.update(b"N" if value is None else (b"T" if value else b"F"))
    elif kind is int:
        h.update(b"i" + str(value).encode() + b";")
    elif kind is float:
        h.update(b"f" + struct.pack("<d", value))
    elif kind is str:
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"s" + str(len(data)).encode() + b":" + data)
    elif kind is np.ndarray:
        h.update(b"a" + value.dtype.str.encode() + str(value.shape).encode())
        if value.dtype.hasobject:
            raise Uncacheable("object array")
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.generic) and kind.__module__ == "numpy":
        h.update(b"g" + value.dtype.str.encode() + value.tobytes())
    elif kind in (tuple, list):
        h.update((b"(" if kind is tuple else b"[") + str(len(value)).encode() + b":")
        for item in value:
            _feed(h, item)
    elif kind is dict:
        h.update(b"{" + str(len(value)).encode() + b":")
        for key, item in value.items():
            _feed(h, key)
            _feed(h, item)
    elif kind is np.random.Generator:
        h.update(b"G")
        _feed(h, _plain(value.bit_generator.state))
    else:
        raise Uncacheable(kind.__name__)


def _plain(state: dict) -> Any:
    return {k: (_plain(v) if isinstance(v, dict) else v) for k, v in state.items()}


def _global_state() -> tuple:
    return np.random.get_state()  # type: ignore[return-value]


def key_of(label: str, args: tuple, kwargs: dict) -> str:
    """The key of a call by its arguments' bytes (raises Uncacheable)."""
    h = hashlib.blake2b(digest_size=20)
    _feed(h, label)
    _feed(h, list(args))
    _feed(h, dict(kwargs))
    return h.hexdigest()


def _with_state(key: str, state: tuple) -> str:
    """The key of a call that drew from numpy's global generator: its arguments' key and the
    generator's state before the call."""
    h = hashlib.blake2b(key.encode(), digest_size=20)
    _feed(h, (state[0], state[1], int(state[2]), int(state[3]), float(state[4])))
    return h.hexdigest()


def _same_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[2:] == b[2:] and np.array_equal(a[1], b[1])


def _after(args: tuple, kwargs: dict) -> Any:
    """What a caller can see of the arguments after the call (mutable ones only)."""

    def snap(value: Any) -> Any:
        if isinstance(value, np.random.Generator):
            return ("G", copy.deepcopy(value.bit_generator.state))
        if isinstance(value, (np.ndarray, dict, list)):
            return ("V", copy.deepcopy(value))
        return None

    return [snap(a) for a in args], {k: snap(v) for k, v in kwargs.items()}


def put_back(value: Any, snap: Any) -> None:
    """Write what a call left in an argument (``snap``, from ``_after``) into ``value``: a
    generator's state, an array's contents (when writable), a dict's or a list's items (fresh
    copies, so that no two replays share them)."""
    if snap is None:
        return
    tag, saved = snap
    if tag == "G":
        value.bit_generator.state = copy.deepcopy(saved)
    elif isinstance(value, np.ndarray):
        if value.flags.writeable:
            value[...] = saved
    elif isinstance(value, dict):
        value.clear()
        value.update(copy.deepcopy(saved))
    elif isinstance(value, list):
        value[:] = copy.deepcopy(saved)


def _replay(args: tuple, kwargs: dict, after: Any) -> None:
    positional, named = after
    for value, snap in zip(args, positional):
        put_back(value, snap)
    for name, snap in named.items():
        put_back(kwargs[name], snap)


MAGIC = b"grader-expected-1\n"


def _sealed(key: bytes, payload: bytes) -> bytes:
    return MAGIC + hmac.new(key, payload, hashlib.sha256).digest() + payload


def _unsealed(key: bytes, data: bytes) -> bytes | None:
    """The payload of a file this judge wrote with ``key``; None for anything else (a file
    changed or planted by someone without the course secret is never unpickled)."""
    head, mac = len(MAGIC), hashlib.sha256().digest_size
    if not data.startswith(MAGIC) or len(data) < head + mac:
        return None
    payload = data[head + mac :]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    return payload if hmac.compare_digest(expected, data[head : head + mac]) else None


class Store:
    """Answers for one topic and version: in memory, and in ``folder`` when given. Files are
    sealed with an HMAC keyed by the course secret (``key``) and read only when it matches."""

    def __init__(
        self,
        folder: Path | None,
        topic: str,
        version: str,
        key: bytes = b"",
        min_seconds: float = 0.0,
        budget_mb: int = 48,
        family: str = "",
    ) -> None:
        """``min_seconds``: answers that took less to compute are not kept (recomputing an
        optimizer step costs less than hashing and copying it), and a function whose calls
        are all that cheap is no longer looked up; ``budget_mb``: no more than that is kept;
        ``family``: a glob of this store's older versions, removed when it is saved."""
        self.path = folder / f"{topic}-{version}.pickle" if folder else None
        self.key = key
        self.min_seconds, self.budget = min_seconds, budget_mb * 1024 * 1024
        self.family = family
        self.cheap: dict[str, int] = {}  # label -> calls found cheap (at CHEAP_CALLS: skipped)
        self.new = 0
        self._lock = threading.Lock()
        self.entries: dict[str, tuple[bytes, Any, tuple]] = self._read()
        self.size = sum(len(e[0]) for e in self.entries.values())

    def _read(self) -> dict[str, tuple[bytes, Any, tuple]]:
        if self.path is None:
            return {}
        try:
            payload = _unsealed(self.key, self.path.read_bytes())
            loaded = pickle.loads(payload) if payload is not None else {}
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def get(self, key: str) -> Any:
        with self._lock:
            return self.entries.get(key, MISS)

    def put(self, key: str, value: tuple[bytes, Any, tuple]) -> None:
        with self._lock:
            if self.size + len(value[0]) > self.budget:
                return  # full: computed live from here on
            self.entries[key] = value
            self.size += len(value[0])
            self.new += 1

    def skipped(self, label: str) -> bool:
        return self.cheap.get(label, 0) >= CHEAP_CALLS

    def was_cheap(self, label: str) -> None:
        with self._lock:
            self.cheap[label] = self.cheap.get(label, 0) + 1

    def save(self) -> None:
        """Write what is new (merged with what another judge wrote meanwhile), atomically."""
        if self.path is None or not self.new:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            merged = {**self._read(), **self.entries}  # what another judge wrote meanwhile
            payload = pickle.dumps(merged, protocol=pickle.HIGHEST_PROTOCOL)
            _remove_dead_tmp(self.path)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                tmp.write_bytes(_sealed(self.key, payload))
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            for old in self.path.parent.glob(self.family) if self.family else ():
                if old != self.path:  # an older version: its answers are never asked for again
                    old.unlink(missing_ok=True)
            self.new = 0


def _remove_dead_tmp(path: Path) -> None:
    """Half-written files of judges that were killed while saving (``.<name>.<pid>.tmp``)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
            os.kill(pid, 0)
        except ValueError:
            continue  # not one of ours
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # a live process of another user


def memoized(store: Store, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` through ``store`` (see the module docstring)."""
    if store.skipped(label):
        return fn(*args, **kwargs)
    try:
        key = key_of(label, args, kwargs)
    except Uncacheable:
        return fn(*args, **kwargs)
    before = _global_state()
    # a call that did not draw from the global generator is kept by its arguments alone (the
    # generator's state is then the same after it: None); one that did, with that state too
    found = store.get(key)
    if found is MISS:
        found = store.get(_with_state(key, before))
    if found is not MISS:
        result, after, state = found
        _replay(args, kwargs, after)
        if state is not None:
            np.random.set_state(state)
        return pickle.loads(result)
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    if time.perf_counter() - started < store.min_seconds:
        store.was_cheap(label)
        return value
    state = _global_state()
    drew = not _same_state(before, state)
    try:
        result = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(result) > LARGEST:
            return value
        kept = (result, _after(args, kwargs), state if drew else None)
        pickle.dumps(kept[1])  # what cannot be kept is simply not kept
    except Exception:
        return value
    store.put(_with_state(key, before) if drew else key, kept)
    return pickle.loads(result)  # the caller gets a copy, exactly as on a hit


def _signature(node: ast.FunctionDef) -> inspect.Signature:
    """A function's signature from its source (names, kinds, which have defaults)."""
    a, params = node.args, []
    positional = [*a.posonlyargs, *a.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [
        _default(d) for d in a.defaults
    ]
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        kind = (
            inspect.Parameter.POSITIONAL_ONLY
            if i < len(a.posonlyargs)
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        params.append(inspect.Parameter(arg.arg, kind, default=default))
    if a.vararg:
        params.append(inspect.Parameter(a.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        value = inspect.Parameter.empty if default is None else _default(default)
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY, default=value))
    if a.kwarg:
        params.append(inspect.Parameter(a.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


def _default(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ...  # a default that is not a literal: present, value unknown here


class _Function:
    """A reference function behind the store; ``__signature__`` read from the source."""

    def __init__(self, owner: CachedReference, name: str, node: ast.FunctionDef) -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = ast.get_docstring(node)
        self.__signature__ = _signature(node)
        self._owner = owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def live(*args: Any, **kwargs: Any) -> Any:  # imports the module on the first miss
            return getattr(self._owner.module, self.__name__)(*args, **kwargs)

        return memoized(self._owner.store, self.__name__, live, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<reference function {self.__name__} (answers kept)>"


class CachedReference:
    """The reference module of a topic with its functions' answers kept (module docstring)."""

    def __init__(self, path: Path, store: Store, load: Callable[[Path], ModuleType]) -> None:
        self._path, self._load = path, load
        self.store = store
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self._functions = {
            n.name: _Function(self, n.name, n) for n in tree.body if isinstance(n, ast.FunctionDef)
        }
        self._classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        self._names = {
            t.id
            for n in tree.body
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
        self._module: ModuleType | None = None

    @property
    def module(self) -> ModuleType:
        if self._module is None:
            self._module = self._load(self._path)
        return self._module

    @property
    def imported(self) -> bool:
        return self._module is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            return getattr(self.module, name)
        found = self._functions.get(name)
        return found if found is not None else getattr(self.module, name)

    def __dir__(self) -> list[str]:
        return sorted(set(self._functions) | set(dir(self.module)))

    def defines(self, name: str) -> bool:
        """Does the reference define ``name`` at top level (from the source: no import)?"""
        return name in self._functions or name in self._classes or name in self._names

    def describe(self, name: str) -> tuple[bool, inspect.Signature] | None:
        """(is a class, signature) of a top-level name, from the source (no import); None when
        the source does not say (not defined there, or a class without ``__init__``)."""
        if name in self._functions:
            return False, self._functions[name].__signature__
        node = self._classes.get(name)
        init = (
            next(
                (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
                None,
            )
            if node is not None
            else None
        )
        if init is None:
            return None
        sig = _signature(init)
        return True, sig.replace(parameters=list(sig.parameters.values())[1:])

    def memoized(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Any judge-side computation on plain data kept like a reference call (``label``
        names it; it must determine the computation together with the arguments)."""
        return memoized(self.store, f"@{label}", fn, *args, **kwargs)


def kept(ref: Any, label: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, a judge-side computation on the reference (a torch model built and
    trained, say), with its answer kept when ``ref`` keeps answers; ``label`` and the plain-data
    ``args`` must determine it."""
    if isinstance(ref, CachedReference):
        return ref.memoized(label, fn, *args)
    return fn(*args)


def source_path(ref: Any) -> Path:
    """The file of the reference module (kept answers or not)."""
    return ref._path if isinstance(ref, CachedReference) else Path(ref.__file__)


def _versions() -> str:
    parts = [np.__version__]
    try:
        parts.append(importlib.metadata.version("torch"))
    except importlib.metadata.PackageNotFoundError:
        parts.append("-")
    return "|".join(parts)


def version(reference: Path, topic_sources: list[Path]) -> str:
    """Changes whenever the answers could: the reference, the topic's checks, the libraries."""
    h = hashlib.blake2b(digest_size=12)
    h.update(_versions().encode())
    for path in [reference, *sorted(topic_sources)]:
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()

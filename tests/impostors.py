"""Trivial impostor submissions, generated from ``solutions/``: no points for a wrong function.

An impostor module defines every public function and class of a reference module under the same
name and signature, and answers with something trivial of the right structure:

- ``zeros``: zeros of the reference output's shape and dtype (``0``, ``False``, ``""``);
- ``echo``: the first input echoed (the first argument of the output's shape, else the first
  array argument resized to it; a method returning an object returns ``self``);
- ``random``: seeded standard-normal values of the right shape and dtype;
- ``constant``: ``1.0`` everywhere (``1``, ``True``, ``"constant"``).

The structure comes from the reference itself: the impostor embeds the reference's source (in
the test's temporary folder, never in a student kit), calls it on the same arguments, and
replaces every number in the result. Caches (tuples inside a result) pass unchanged, so that a
backward pass gets a cache it can read; its own result is replaced in turn. A class is a
subclass of the reference's whose method results and public attribute reads are replaced (the
reference's own constructions build the impostor class, so a ``Value`` graph stays an impostor
graph); a ``torch.nn.Module`` gets its parameters filled and its ``forward`` replaced.
"""

from __future__ import annotations

import ast
from pathlib import Path

KINDS = ("zeros", "echo", "random", "constant")

_RUNTIME = '''
import functools as _functools
import types as _types

import numpy as _np

_R = _types.ModuleType("_impostor_reference")
exec(compile(_SOURCE, "<reference>", "exec"), _R.__dict__)
_RNG = _np.random.default_rng(1234)


def _torch_tensor(v):
    return type(v).__module__.startswith("torch") and hasattr(v, "detach") and hasattr(v, "shape")


def _first_array(args):
    for a in args:
        if isinstance(a, _np.ndarray) and a.dtype.kind in "fc" and a.size:
            return a
    return None


def _echo_array(v, args):
    for a in args:
        if isinstance(a, _np.ndarray) and a.shape == v.shape:
            return a.astype(v.dtype, copy=True)
    first = _first_array(args)
    if first is None or v.size == 0:
        return _np.zeros_like(v)
    return _np.resize(first, v.shape).astype(v.dtype)


def _echo_scalar(v, args):
    for a in args:
        if type(a) is type(v):
            return a
    first = _first_array(args)
    return type(v)(first.flat[0]) if first is not None and not isinstance(v, str) else type(v)()


def _fake(v, args, depth=0):
    """``v`` with every number replaced as ``_KIND`` says (caches: tuples below the top pass)."""
    if isinstance(v, bool) or isinstance(v, _np.bool_):
        return {"zeros": False, "constant": True, "random": bool(_RNG.integers(2))}.get(
            _KIND, _echo_scalar(bool(v), args)
        )
    if isinstance(v, _np.ndarray):
        if v.dtype.kind not in "fciu":
            return v
        if _KIND == "zeros":
            return _np.zeros_like(v)
        if _KIND == "constant":
            return _np.ones_like(v)
        if _KIND == "random":
            return _RNG.standard_normal(v.shape).astype(v.dtype)
        return _echo_array(v, args)
    if isinstance(v, (int, float, _np.integer, _np.floating, str)):
        if _KIND == "zeros":
            return type(v)()
        if _KIND == "constant":
            return type(v)("constant") if isinstance(v, str) else type(v)(1)
        if _KIND == "random":
            if isinstance(v, str):
                return "random"
            if isinstance(v, (int, _np.integer)):
                return type(v)(_RNG.integers(0, 10))
            return type(v)(_RNG.standard_normal())
        return _echo_scalar(v, args)
    if _torch_tensor(v):
        import torch

        if _KIND == "zeros":
            return torch.zeros_like(v)
        if _KIND == "constant":
            return torch.ones_like(v)
        if _KIND == "random":
            return torch.as_tensor(_RNG.standard_normal(tuple(v.shape))).to(v.dtype)
        return v
    if isinstance(v, dict):
        return {k: _fake(x, args, depth + 1) for k, x in v.items()}
    if isinstance(v, list):
        return [_fake(x, args, depth + 1) for x in v]
    if type(v) is tuple and depth == 0:
        return tuple(_fake(x, args, depth + 1) for x in v)
    return v


def _function(name):
    target = getattr(_R, name)

    @_functools.wraps(target)
    def impostor(*args, **kwargs):
        return _fake(target(*args, **kwargs), args + tuple(kwargs.values()))

    impostor.__module__ = __name__
    impostor.__wrapped__ = target
    return impostor


def _method(name, target):
    @_functools.wraps(target)
    def impostor(self, *args, **kwargs):
        result = target(self, *args, **kwargs)
        if _KIND == "echo" and result is not None and not isinstance(
            result, (_np.ndarray, int, float, bool, str, tuple, list, dict, _np.generic)
        ):
            return self
        return _fake(result, args + tuple(kwargs.values()))

    return impostor


def _module_class(base):
    import torch

    def __init__(self, *args, **kwargs):
        base.__init__(self, *args, **kwargs)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(_fake(p.detach().clone(), ()))

    def forward(self, *args, **kwargs):
        return _fake(base.forward(self, *args, **kwargs), args)

    return type(base.__name__, (base,), {"__init__": __init__, "forward": forward,
                                          "__module__": __name__})


def _plain_class(base):
    def __getattribute__(self, name):
        v = object.__getattribute__(self, name)
        if name.startswith("_") or callable(v) or _KIND == "echo":
            return v
        return _fake(v, ())

    def __init__(self, *args, **kwargs):
        base.__init__(self, *args, **kwargs)
        for key, value in list(vars(self).items()):
            if not key.startswith("_"):
                object.__setattr__(self, key, _fake(value, args + tuple(kwargs.values())))

    body = {"__module__": __name__, "__getattribute__": __getattribute__, "__init__": __init__}
    for name, member in vars(base).items():
        if name == "__init__" or not callable(member) or isinstance(member, type):
            continue
        if name.startswith("__") and name not in _DUNDER_OPS:
            continue
        body[name] = _method(name, member)
    cls = type(base.__name__, (base,), body)
    setattr(_R, base.__name__, cls)  # the reference's own constructions build impostors
    return cls


_DUNDER_OPS = {"__add__", "__radd__", "__mul__", "__rmul__", "__neg__", "__sub__", "__rsub__",
               "__truediv__", "__rtruediv__", "__pow__", "__matmul__"}


def _class(name):
    base = getattr(_R, name)
    if any(k.__name__ == "Module" and k.__module__.startswith("torch") for k in base.__mro__):
        return _module_class(base)
    if any(k.__module__.startswith("torch") for k in base.__mro__[1:]):
        return type(name, (base,), {"__module__": __name__})
    return _plain_class(base)
'''


def public_names(source: str) -> tuple[list[str], list[str]]:
    """The public top-level functions and classes a reference module defines."""
    tree = ast.parse(source)
    functions = [
        n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
    ]
    classes = [
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")
    ]
    return functions, classes


def impostor_source(reference: Path, kind: str) -> str:
    """The source of the ``kind`` impostor of reference module ``reference``."""
    if kind not in KINDS:
        raise ValueError(f"unknown impostor kind {kind!r}; one of {KINDS}")
    source = reference.read_text()
    functions, classes = public_names(source)
    lines = [
        f'"""A {kind} impostor of {reference.name}: trivial answers of the right structure."""',
        f"_KIND = {kind!r}",
        f"_SOURCE = {source!r}",
        _RUNTIME,
    ]
    lines += [f"{name} = _class({name!r})" for name in classes]
    lines += [f"{name} = _function({name!r})" for name in functions]
    return "\n".join(lines) + "\n"


def write_impostor(reference: Path, kind: str, folder: Path) -> Path:
    """Write the impostor of ``reference`` as ``folder/<topic>.py`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / reference.name
    path.write_text(impostor_source(reference, kind))
    return path

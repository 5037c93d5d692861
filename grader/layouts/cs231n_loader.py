"""Runtime of a generated CS231n topic module (the text of this file is embedded in it).

It runs in the worker only, never in the judge. The generated module holds the sources of a
student's CS231n trees (read by the judge as text) and the names to export; ``_install`` serves
them through an in-memory importer so that ``from cs231n.layers import *`` and relative imports
of sibling files work, with the packages' ``__init__.py`` not executed (a ``classifiers`` that
imports a missing Cython module then breaks nothing). Each file is imported on its own inside a
``try``: a file that fails to import turns the names expected from it into stubs that raise an
``ImportError`` saying why, and never hides the functions of another file. ``builtins`` exists in
Python 3; ``past.builtins`` and ``future`` (the Python 2 compatibility packages the starter code
imports) are inert shims installed here, nothing is installed on the machine.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import sys
import traceback
import types
from typing import Any

import numpy as np

MAX_FRAMES = 3  # innermost frames of the tree's files named in an error message
_SOURCES: dict[str, list[str]] = {}  # shown path -> source lines, of every tree installed


def _frames(tb: Any) -> str:
    """``\n  at <shown file>:<line> in <function>: <code>`` for the innermost frames of
    traceback ``tb`` that run in the tree's files (the student's code, not numpy's or ours)."""
    found = []
    for frame, line in traceback.walk_tb(tb):
        shown = frame.f_code.co_filename
        if shown in _SOURCES:
            lines = _SOURCES[shown]
            code = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
            where = f"at {shown}:{line} in {frame.f_code.co_name}"
            found.append(f"{where}: {code}" if code else where)
    return "".join("\n  " + f for f in found[-MAX_FRAMES:])


def _located(exc: BaseException) -> BaseException:
    """``exc`` with the tree's frames added to its message (the judge shows the message, and
    only frames of the generated module's own file, which are none of the tree's): an
    instance of a subclass of the same name whose ``str`` adds them; ``exc`` itself when that
    cannot be made."""
    where = _frames(exc.__traceback__)
    cls = type(exc)
    if not where or not isinstance(exc, Exception) or isinstance(exc, NotImplementedError):
        return exc
    if getattr(exc, "_cs231n_located", False):  # a method called by a method: said once
        return exc
    try:
        text = str(exc) + where
        named = {"__str__": lambda self: text, "__module__": cls.__module__}
        named["_cs231n_located"] = True
        sub = type(cls.__name__, (cls,), {**named, "__qualname__": cls.__qualname__})
        located = sub.__new__(sub, *exc.args)
        located.args = exc.args
        located.__dict__.update(getattr(exc, "__dict__", {}))
    except Exception:  # noqa: BLE001 (an exception class that cannot be subclassed or made)
        return exc
    return located.with_traceback(exc.__traceback__)


def _py2_shims() -> None:
    if "past" not in sys.modules:
        past = types.ModuleType("past")
        pb = types.ModuleType("past.builtins")
        pb.xrange = range  # type: ignore[attr-defined]
        pb.basestring = str  # type: ignore[attr-defined]
        pb.unicode = str  # type: ignore[attr-defined]
        pb.long = int  # type: ignore[attr-defined]
        pb.raw_input = input  # type: ignore[attr-defined]
        past.builtins = pb  # type: ignore[attr-defined]
        past.__path__ = []  # type: ignore[attr-defined]
        sys.modules["past"], sys.modules["past.builtins"] = past, pb
    if "future" not in sys.modules:
        future = types.ModuleType("future")
        std = types.ModuleType("future.standard_library")
        std.install_aliases = lambda: None  # type: ignore[attr-defined]
        future.standard_library = std  # type: ignore[attr-defined]
        future.__path__ = []  # type: ignore[attr-defined]
        sys.modules["future"], sys.modules["future.standard_library"] = future, std


class _Tree(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one tree's ``cs231n`` package from memory; packages are created empty."""

    def __init__(self, files: dict[str, tuple[str, str]]) -> None:
        self.files = files  # dotted name -> (shown path, source)
        self.packages = {"cs231n"} | {
            ".".join(n.split(".")[:i]) for n in files for i in range(1, n.count(".") + 1)
        }

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name in self.packages:
            return importlib.util.spec_from_loader(name, self, is_package=True)
        if name in self.files:
            spec = importlib.util.spec_from_loader(name, self, origin=self.files[name][0])
            if spec is not None:
                spec.has_location = True
            return spec
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ in self.packages:
            module.__path__ = []  # type: ignore[attr-defined]
            return
        shown, source = self.files[module.__name__]
        module.__file__ = shown
        exec(compile(source, shown, "exec", dont_inherit=True), module.__dict__)


def _stub(name: str, is_class: bool, why: str) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ImportError(why)

    if is_class:
        return type(name, (), {"__init__": lambda self, *a, **k: fail()})
    fail.__name__ = name
    return fail


def _drop_to_keep(fn: Any) -> Any:
    """The tree's dropout_forward takes p as the DROP probability: call it with 1 - p_keep."""

    @functools.wraps(fn)
    def dropout_forward(x: Any, dropout_param: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(dropout_param, dict) and "p" in dropout_param:
            dropout_param = dict(dropout_param, p=1 - dropout_param["p"])
        return fn(x, dropout_param, *args, **kwargs)

    return dropout_forward


def _g_in_param(fn: Any) -> Any:
    """The tree's spatial_groupnorm_forward reads G from gn_param: pass it there."""

    def spatial_groupnorm_forward(x: Any, gamma: Any, beta: Any, G: Any, gn_param: Any) -> Any:
        return fn(x, gamma, beta, dict(gn_param, G=G))

    spatial_groupnorm_forward.__doc__ = fn.__doc__
    return spatial_groupnorm_forward


def _half_reg(fn: Any) -> Any:
    """The tree's loss adds 0.5 * reg * sum(W*W): with 2 * reg it is the kit's reg * sum(W*W)
    (and its gradient reg * W becomes 2 * reg * W)."""

    @functools.wraps(fn)
    def loss(W: Any, X: Any, y: Any, reg: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(W, X, y, 2 * reg, *args, **kwargs)

    return loss


def _l2_factor(fn: Any, W: Any, X: Any, y: Any, reg: Any) -> float | None:
    """2.0 when ``fn``'s loss grows by 0.5 * reg * sum(W*W) from reg = 0 to ``reg``, 1.0 when
    by reg * sum(W*W) (or neither: the kit's is then graded), None when it cannot tell."""
    try:
        term = float(reg) * float(np.sum(np.asarray(W, dtype=float) ** 2))
        if not term:
            return None
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in (W, X, y)]
        with_reg = float(fn(*copies, reg)[0])
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in (W, X, y)]
        grown = with_reg - float(fn(*copies, 0.0)[0])
    except Exception:  # noqa: BLE001 (the student's function: the real call reports it)
        return None
    return 2.0 if abs(grown - 0.5 * term) < abs(grown - term) else 1.0


def _reg_either(fn: Any) -> Any:
    """The assignment leaves the L2 factor open and the code does not show it: measured once,
    on the first call with a nonzero term, from how the loss grows with reg."""
    factor: list[float] = []

    @functools.wraps(fn)
    def loss(W: Any, X: Any, y: Any, reg: Any, *args: Any, **kwargs: Any) -> Any:
        if not factor and not args and not kwargs:
            if (found := _l2_factor(fn, W, X, y, reg)) is not None:
                factor.append(found)
        return fn(W, X, y, reg * factor[0] if factor else reg, *args, **kwargs)

    return loss


def _adam_t0(fn: Any) -> Any:
    """The tree's adam starts t at 1 and increments before use: a fresh state is given t = 0,
    so its first step uses t = 1 as the kit's does."""

    @functools.wraps(fn)
    def adam(w: Any, dw: Any, config: Any = None, *args: Any, **kwargs: Any) -> Any:
        if config is None:
            config = {}
        if isinstance(config, dict):
            config.setdefault("t", 0)
        return fn(w, dw, config, *args, **kwargs)

    return adam


def _modes_checked(fn: Any) -> Any:
    """CS231n's dropout_forward does not say what a mode other than 'train' and 'test' does
    (its if/elif falls through); the kit's raises ValueError: an unknown mode is refused here,
    before the tree's code runs, so the tree is not graded on a promise it never made."""

    @functools.wraps(fn)
    def dropout_forward(x: Any, dropout_param: Any, *args: Any, **kwargs: Any) -> Any:
        mode = dropout_param.get("mode") if isinstance(dropout_param, dict) else None
        if mode not in ("train", "test"):
            raise ValueError(f"unknown dropout mode {mode!r} (refused for the CS231n tree)")
        return fn(x, dropout_param, *args, **kwargs)

    return dropout_forward


def _copy_upstream(fn: Any) -> Any:
    """A backward pass gets copies of its array arguments (dout, dnext_h, dnext_c; the cache
    is passed as it is): modifying them in place can never change what another call sees."""

    @functools.wraps(fn)
    def backward(*args: Any, **kwargs: Any) -> Any:
        args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
        return fn(*args, **kwargs)

    return backward


def _locating(fn: Any) -> Any:
    """Errors of ``fn`` name the lines of the tree's files they came from (``_located``)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (re-raised, with the tree's frames named)
            located = _located(exc)
            if located is exc:
                raise
            raise located from None

    return call


def _locate_class(cls: type) -> type:
    for name, attr in list(vars(cls).items()):
        if inspect.isfunction(attr):
            setattr(cls, name, _locating(attr))
    return cls


_WRAPPERS = {
    "drop_to_keep": _drop_to_keep,
    "g_in_param": _g_in_param,
    "half_reg": _half_reg,
    "reg_either": _reg_either,
    "adam_t0": _adam_t0,
    "copy_upstream": _copy_upstream,
    "modes_checked": _modes_checked,
}


def _install(namespace: dict[str, Any], trees: list[Any], exports: list[Any]) -> None:
    """``exports``: [tree index, dotted module, name in the file, exported name, is a class,
    wrappers]. Trees are loaded one after the other (each is a ``cs231n`` package)."""
    _py2_shims()
    for files in trees:
        _SOURCES.update({shown: source.splitlines() for shown, source in files.values()})
    for index, files in enumerate(trees):
        for key in [k for k in sys.modules if k == "cs231n" or k.startswith("cs231n.")]:
            del sys.modules[key]
        finder = _Tree({k: tuple(v) for k, v in files.items()})
        sys.meta_path.insert(0, finder)
        try:
            for tree, dotted, name, exported, is_class, wraps in exports:
                if tree != index:
                    continue
                shown = finder.files[dotted][0]
                try:
                    module = sys.modules.get(dotted) or importlib.import_module(dotted)
                    obj = getattr(module, name)
                except BaseException as exc:  # noqa: BLE001 (student code at import time)
                    why = f"{shown} could not be imported: {type(exc).__name__}: {exc}"
                    if isinstance(exc, AttributeError) and dotted in sys.modules:
                        why = f"{name} is not defined in {shown} once it has run"
                    obj = _stub(exported, bool(is_class), why + _frames(exc.__traceback__))
                    sys.modules.pop(dotted, None)
                if isinstance(obj, type):
                    obj = _locate_class(obj)
                elif callable(obj):
                    for wrap in wraps:
                        obj = _WRAPPERS[wrap](obj)
                    obj = _locating(obj)
                try:
                    obj.__module__ = namespace["__name__"]
                except (AttributeError, TypeError):
                    pass
                namespace[exported] = obj
        finally:
            sys.meta_path.remove(finder)

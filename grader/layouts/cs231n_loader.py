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
import sys
import types
from typing import Any

_PY2_DIV = "Python 2 code? In Python 3 `/` is true division: use //"
_HINTS = (
    ("has no attribute 'int'", "np.int was removed in numpy 1.24: use int or np.int64"),
    ("has no attribute 'float'", "np.float was removed in numpy 1.24: use float or np.float64"),
    ("has no attribute 'bool'", "np.bool was removed in numpy 1.24: use bool"),
    ("'newshape'", "reshape(newshape=...) was removed in numpy 2.1: pass the shape positionally"),
    ("'float' object cannot be interpreted as an integer", _PY2_DIV),
    ("only integers, slices", _PY2_DIV + " for indices"),
    ("Missing parentheses in call to 'print'", "Python 2 print statement: use print(...)"),
)


def environment_hint(text: str) -> str:
    """`` [environment incompatibility: <the fix>]`` when error text ``text`` is one of the
    known failures of code written for an older numpy or for Python 2; ``""`` otherwise."""
    for needle, fix in _HINTS:
        if needle in text:
            return f" [environment incompatibility: {fix}]"
    return ""


def _hint(exc: BaseException) -> str:
    return environment_hint(f"{type(exc).__name__}: {exc}")


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


_WRAPPERS = {"drop_to_keep": _drop_to_keep, "g_in_param": _g_in_param}


def _install(namespace: dict[str, Any], trees: list[Any], exports: list[Any]) -> None:
    """``exports``: [tree index, dotted module, name in the file, exported name, is a class,
    wrapper or ""]. Trees are loaded one after the other (each is a ``cs231n`` package)."""
    _py2_shims()
    for index, files in enumerate(trees):
        for key in [k for k in sys.modules if k == "cs231n" or k.startswith("cs231n.")]:
            del sys.modules[key]
        finder = _Tree({k: tuple(v) for k, v in files.items()})
        sys.meta_path.insert(0, finder)
        try:
            for tree, dotted, name, exported, is_class, wrap in exports:
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
                    obj = _stub(exported, bool(is_class), why + _hint(exc))
                    sys.modules.pop(dotted, None)
                if wrap in _WRAPPERS and callable(obj) and not isinstance(obj, type):
                    obj = _WRAPPERS[wrap](obj)
                try:
                    obj.__module__ = namespace["__name__"]
                except (AttributeError, TypeError):
                    pass
                namespace[exported] = obj
        finally:
            sys.meta_path.remove(finder)

"""Shape of returned values: is it what the signature promises? And how to describe a call.

``conform`` walks the reference's result and the student's side by side and raises a
``bad_output`` failure, with a message saying what was expected, at the first difference in
structure, type, dtype or shape. Values are compared later, only once the structure agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.checks.base import Outcome, fail
from grader.protocol.values import Handle, Other, RngSeed

CACHE = "<cache>"  # an output position that stays in the worker and is not compared


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, Other):
        return f"{value.type_name} ({value.note})"
    if isinstance(value, Handle):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, np.generic):
        return f"a numpy {value.dtype} scalar"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def is_real_scalar(value: Any) -> bool:
    if type(value) in (int, float):
        return True
    return isinstance(value, np.generic) and value.dtype.kind in "fiu"


def conform(got: Any, expected: Any, name: str, float_dtype: np.dtype | None = None) -> None:
    """Raise ``bad_output`` unless ``got`` has the structure of ``expected``."""
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{name}: expected a tuple of {len(expected)} values, got {_kind(got)}",
            )
        return
    if isinstance(expected, list):  # a list (of chunks, of buffers): a list or tuple of as many
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{name}: expected a list of {len(expected)} values, got {_kind(got)}",
            )
        for i, (g, e) in enumerate(zip(got, expected)):
            conform(g, e, f"{name}[{i}]", float_dtype)
        return
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            raise fail(Outcome.BAD_OUTPUT, f"{name}: expected a dict, got {_kind(got)}")
        missing = sorted(set(expected) - set(got))
        if missing:
            raise fail(Outcome.BAD_OUTPUT, f"{name}: dict is missing keys {missing}")
        for key in expected:
            conform(got[key], expected[key], f"{name}[{key!r}]", float_dtype)
        return
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{name}: expected an ndarray of shape {expected.shape}, got {_kind(got)}",
            )
        want = float_dtype or expected.dtype
        if got.dtype != want:
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{name}: expected dtype {want}, got {got.dtype} (an integer or float32 "
                "array loses precision; build outputs with the input's dtype)",
            )
        if got.shape != expected.shape:
            raise fail(
                Outcome.BAD_OUTPUT, f"{name}: expected shape {expected.shape}, got {got.shape}"
            )
        return
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            raise fail(Outcome.BAD_OUTPUT, f"{name}: expected True or False, got {_kind(got)}")
        return
    if isinstance(expected, str):
        if not isinstance(got, str):
            raise fail(Outcome.BAD_OUTPUT, f"{name}: expected a string, got {_kind(got)}")
        return
    if is_real_scalar(expected):
        if not is_real_scalar(got):
            hint = (
                " (use float(...) or .item() for a 0-d array)"
                if isinstance(got, np.ndarray) and got.ndim == 0
                else ""
            )
            raise fail(
                Outcome.BAD_OUTPUT,
                f"{name}: expected a Python or numpy scalar, got {_kind(got)}{hint}",
            )
        return
    raise AssertionError(f"reference returned an unsupported value for {name}: {_kind(expected)}")


def conform_outputs(got: Any, expected: tuple, names: Sequence[str], fn: str) -> tuple[Any, ...]:
    """Check a return value against the reference's (a tuple, one item per name); return the
    student's value as a tuple in the same layout."""
    if len(names) == 1:
        conform(got, expected[0], f"{fn} -> {names[0]}")
        return (got,)
    conform(got, tuple(expected), f"{fn} return value ({', '.join(names)})")
    for name, g, e in zip(names, got, expected):
        if name != CACHE:
            conform(g, e, f"{fn} -> {name}")
    return tuple(got)


def describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.shape}" if value.dtype.kind == "f" else f"{value.dtype} {value.shape}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {describe_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, RngSeed):
        return "rng"
    if isinstance(value, Handle):
        return "cache"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def describe_call(fn: str, names: Sequence[str], args: Sequence[Any]) -> str:
    """``svm_loss_naive(W (5, 4), X (8, 5), y int64 (8,), reg=0.1)``."""
    parts = []
    for name, value in zip(names, args):
        text = describe_value(value)
        sep = " " if isinstance(value, np.ndarray) else "="
        parts.append(f"{name}{sep}{text}")
    return f"{fn}({', '.join(parts)})"

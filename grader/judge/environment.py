"""Errors that are the grading environment's, not the student's logic: code written for an older
numpy (``np.int``, ``reshape(newshape=...)``, ``int()`` of a 1-element array) or for Python 2
(integer ``/``, ``print`` statements, ``xrange``). The fault stays an ``exception`` scored 0;
its message gains what the incompatibility is and the fix, so that a student (or a course
grading old CS231n trees) knows it is not a wrong answer.
"""

from __future__ import annotations

import re

MARK = "[environment incompatibility:"
_PY2_DIV = "Python 2 code? In Python 3 `/` is true division: use // for integer division"
_REMOVED_ALIAS = "np.{0} was removed in numpy 1.24: use {1}"

# (pattern on "<ExceptionType>: <message>", the fix); the first that matches is said
HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), fix)
    for pattern, fix in (
        (r"has no attribute 'int'", _REMOVED_ALIAS.format("int", "int or np.int64")),
        (r"has no attribute 'float'", _REMOVED_ALIAS.format("float", "float or np.float64")),
        (r"has no attribute 'bool'", _REMOVED_ALIAS.format("bool", "bool or np.bool_")),
        (r"has no attribute 'object'", _REMOVED_ALIAS.format("object", "object")),
        (r"has no attribute 'complex'", _REMOVED_ALIAS.format("complex", "complex")),
        (r"has no attribute 'str'", _REMOVED_ALIAS.format("str", "str")),
        (r"has no attribute 'asscalar'", "np.asscalar was removed in numpy 1.23: use x.item()"),
        (
            r"has no attribute '(float_|NaN|Inf|product|cumproduct|alltrue|sometrue|asfarray)'",
            "a numpy 1.x name removed in numpy 2.0: use the numpy 2 name "
            "(np.float64, np.nan, np.inf, np.prod, np.cumprod, np.all, np.any, np.asarray)",
        ),
        (
            r"'newshape'",
            "reshape(newshape=...) was removed in numpy 2.1: pass the shape positionally",
        ),
        (
            r"only 0-dimensional arrays can be converted to Python scalars|"
            r"only (length-1|size-1) arrays can be converted to Python scalars",
            "int() / float() of an array with ndim > 0 (even of 1 element) is an error in "
            "numpy 2: index it (x[0]) or use x.item()",
        ),
        (r"'float' object cannot be interpreted as an integer", _PY2_DIV),
        (r"only integers, slices", _PY2_DIV + " (an index or a shape must be an int)"),
        (r"Missing parentheses in call to 'print'", "a Python 2 print statement: use print(...)"),
        (r"Missing parentheses in call to 'exec'", "a Python 2 exec statement: use exec(...)"),
        (
            r"multiple exception types must be parenthesized",
            "Python 2 `except E, e:`: use `except E as e:`",
        ),
        (r"leading zeros in decimal integer literals", "a Python 2 octal literal: use 0o..."),
        (r"name 'xrange' is not defined", "xrange is Python 2: use range"),
        (r"name '(unicode|basestring|long|raw_input)' is not defined", "a Python 2 builtin"),
        (
            r"has no attribute '(iteritems|itervalues|iterkeys|has_key)'",
            "Python 2 dict method: use .items(), .values(), .keys() or `key in d`",
        ),
    )
)


def environment_hint(text: str) -> str:
    """`` [environment incompatibility: <the fix>]`` when error text ``text`` (``"<type>:
    <message>"``) is a known failure of code written for an older numpy or for Python 2;
    on a line of its own when ``text`` has several lines; ``""`` otherwise, and when
    ``text`` already says it."""
    if MARK in text:
        return ""
    for pattern, fix in HINTS:
        if pattern.search(text):
            return ("\n  " if "\n" in text else " ") + f"{MARK} {fix}]"
    return ""

"""Text made safe where it lands: reports, logs, the gradebook and the terminal.

Much of what the grader writes comes from students: exception messages, printed output, the
names of files in a zip and of the zip itself. Written raw, a control character rewrites the
instructor's terminal (``ESC [2J`` clears it), a bidi override reorders what a reader sees, and
a lone surrogate (``'\\udc80'``, from a file name that is not UTF-8 or a crafted message) cannot
be encoded as UTF-8 at all: writing the report raised and the batch lost its gradebook. Every
such character is written as its Python escape instead (``\\x1b``, ``\\u202e``, ``\\udc80``), so
the text stays readable and nothing is lost. A gradebook cell that starts with ``=``, ``+``,
``-`` or ``@`` is run as a formula by spreadsheet programs: it gets a leading single quote (the
OWASP CSV-injection convention, which Excel and LibreOffice honour by showing the text).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.pipeline import CheckResult, SubmissionReport

# C0 controls but tab and newline, DEL and the C1 controls, Unicode's invisible direction marks
# and overrides (Trojan-source reordering), line/paragraph separators, and lone surrogates
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
UNSAFE = re.compile(f"[{_UNSAFE}]")
UNSAFE_IN_LINE = re.compile(f"[\t\n{_UNSAFE}]")  # one-line places: ids, names, cells
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheet programs evaluate


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x09:
        return "\\t"
    if code == 0x0A:
        return "\\n"
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str) -> str:
    """``text`` with every unsafe character (see the module docstring) written as its escape;
    newlines and tabs are kept. Idempotent: its output holds no unsafe character."""
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def line(text: str) -> str:
    """``text`` for a one-line place (an id or a file name in a message, a table cell): as
    ``clean``, with newlines and tabs escaped too."""
    return UNSAFE_IN_LINE.sub(_escape, text) if UNSAFE_IN_LINE.search(text) else text


def name(text: str, limit: int = 120) -> str:
    """A file or submission name quoted for a message: one line, at most ``limit`` characters
    (a 300-byte name does not fill the reason)."""
    shown = line(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def cell(text: str) -> str:
    """A gradebook cell: one line, with a leading ``'`` where a spreadsheet would start a
    formula (``=``, ``+``, ``-``, ``@``, tab or carriage return at the start)."""
    shown = line(text)
    return "'" + shown if text.startswith(FORMULA_START) else shown


def data(value: Any) -> Any:
    """Every string in JSON-like ``value`` (dicts, lists, tuples) cleaned, keys included."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {data(k): data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(data(v) for v in value)
    return value


def _result(r: CheckResult) -> CheckResult:
    return dataclasses.replace(
        r,
        message=clean(r.message),
        staff=clean(r.staff),
        misconception=clean(r.misconception) if r.misconception else r.misconception,
        warnings=tuple(clean(w) for w in r.warnings),
    )


def report(rep: SubmissionReport) -> SubmissionReport:
    """``rep`` with every text a student can influence cleaned (messages, staff details,
    warnings, printed output, the refusal and grader-error reasons, the layout's extra data);
    ids, names and scores are unchanged. Reports written from it are safe in every format
    (JSON included)."""
    return dataclasses.replace(
        rep,
        results=tuple(_result(r) for r in rep.results),
        student_output=clean(rep.student_output),
        refused=clean(rep.refused) if rep.refused else rep.refused,
        grader_error=clean(rep.grader_error) if rep.grader_error else rep.grader_error,
        extra=data(rep.extra),
    )

"""Conventions of a CS231n tree's year, read from its own text (never run), and how the calls
are adapted so that a function correct for its year is not failed.

- ``dropout_p``: ``p`` is the DROP probability (2017-2018) or the KEEP probability (2019 on,
  the kit's), from the docstring or comments of ``dropout_forward``.
- ``<fn>_regularisation`` for the four linear-classifier losses: ``reg * sum(W*W)`` (the kit's)
  or ``0.5 * reg * sum(W*W)``, from the function's own loss statement. The assignment pins it
  only where its staff code computes the term: the starter ``svm_loss_naive`` (outside the
  student's region) does, for both SVM functions; nothing does for softmax. A pinned convention
  is graded as pinned; otherwise the function's own convention is accepted, and a function
  whose code does not show it is called so that either is accepted (decided in the worker from
  how its loss responds to ``reg``).
- ``adam_t_default``: ``config.setdefault('t', 0)`` (2018 on, the kit's) or ``1`` (earlier);
  a tree starting at 1 is called with ``t = 0`` when the check gives no ``t``, so that the
  first step uses ``t = 1`` as the kit's does.
- ``in_place_upstream`` (a warning, not a convention): a ``*_backward`` that modifies its
  upstream gradient (``dout``, ``dnext_c``, ...) in place. Each call gets its own copy, so it
  costs nothing here; the warning says where, for the student's own code.

``decide(files)`` returns the evidence (``extra_data.conventions``); ``adapt(function, conv)``
the worker wrappers (``cs231n_loader._WRAPPERS``) and the note shown on the function's checks.
"""

from __future__ import annotations

import ast
import re
from typing import Any

START = re.compile(r"#.*(TODO|START OF YOUR CODE)", re.IGNORECASE)
END = re.compile(r"#.*END OF YOUR CODE", re.IGNORECASE)
_WHAT = r"\w*\s+(each\s+)?(neuron|unit|activation)s?\s+(output\s+)?with\s+prob"
DROP = re.compile(r"(drop|zero)" + _WHAT)
KEEP = re.compile(r"keep" + _WHAT)
ADAM_T = re.compile(r"""setdefault\(\s*['"]t['"]\s*,\s*(\d+)""")
LINEAR_LOSSES = (
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
)
FULL, HALF = "reg * sum(W*W)", "0.5 * reg * sum(W*W)"
PINNED_BY = "svm_loss_naive"  # its starter code computes the term for the SVM functions


def regions(node: ast.AST, source: str) -> list[tuple[int, int]]:
    """The student regions of ``node`` (``TODO``/``START OF YOUR CODE`` .. ``END OF YOUR
    CODE``), as (first, last) line numbers of their bodies in ``source``."""
    found, start = [], None
    for number in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        line = source.splitlines()[number - 1]
        if END.search(line):
            if start is not None:
                found.append((start, number - 1))
            start = None
        elif START.search(line) and start is None:
            start = number + 1
    return found


def _where(parsed: Any, line: int) -> str:
    return f"{parsed.shown}:{line}: {parsed.source.splitlines()[line - 1].strip()[:120]}"


def _defining(files: dict[str, Any], name: str) -> tuple[Any, ast.AST] | None:
    for parsed in files.values():
        if (node := parsed.defs.get(name)) is not None:
            return parsed, node
    return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_half(value: ast.AST) -> bool:
    for n in ast.walk(value):
        if isinstance(n, ast.Constant) and n.value == 0.5:
            return True
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
            if isinstance(n.right, ast.Constant) and n.right.value == 2:
                return True
    return False


def _squares_w(value: ast.AST) -> bool:
    """Does expression ``value`` square ``W`` itself (``W * W``, ``W ** 2``, ``np.square(W)``,
    ``np.linalg.norm(W)``, ``np.multiply(W, W)``)? A call of a helper does not count."""

    def is_w(n: ast.AST) -> bool:
        return isinstance(n, ast.Name) and n.id == "W"

    for n in ast.walk(value):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and is_w(n.left):
            if is_w(n.right):
                return True
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and is_w(n.left):
            return True
        if isinstance(n, ast.Call) and any(is_w(a) for a in n.args):
            name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            if name in ("square", "norm", "multiply"):
                return True
    return False


def _targets(stmt: ast.Assign | ast.AugAssign | ast.AnnAssign) -> list[ast.expr]:
    return list(stmt.targets) if isinstance(stmt, ast.Assign) else [stmt.target]


def _assignments(node: ast.AST) -> list[ast.Assign | ast.AugAssign | ast.AnnAssign]:
    found = [n for n in ast.walk(node) if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _reg_statements(node: ast.AST) -> list[tuple[int, str]]:
    """(line, FULL or HALF) of each statement adding the L2 term to a loss: its value uses
    ``reg`` and squares ``W``; statements assigning a gradient (``dW``, ``grad``) are not."""
    found = []
    for stmt in _assignments(node):
        if stmt.value is None or "reg" not in _names(stmt.value) or not _squares_w(stmt.value):
            continue
        if any(n.startswith("d") or "grad" in n for t in _targets(stmt) for n in _names(t)):
            continue
        found.append((stmt.lineno, HALF if _is_half(stmt.value) else FULL))
    return found


def _regularisation(files: dict[str, Any]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    pin = None
    if hit := _defining(files, PINNED_BY):
        parsed, node = hit
        spans = regions(node, parsed.source)
        staff = [
            (line, value)
            for line, value in _reg_statements(node)
            if spans and not any(a <= line <= b for a, b in spans)
        ]
        if staff:
            pin = (staff[0][1], _where(parsed, staff[0][0]))
    for name in LINEAR_LOSSES:
        if not (hit := _defining(files, name)):
            continue
        parsed, node = hit
        own = _reg_statements(node)
        entry = {"value": own[0][1], "evidence": _where(parsed, own[0][0])} if own else {}
        if not own:
            entry = {"value": "not stated", "evidence": "no loss statement uses reg and W"}
        if pin and name.startswith("svm"):
            entry["pinned"] = f"{pin[0]} by the starter code ({pin[1]})"
            entry["graded_as"] = pin[0]
        elif own:
            entry["graded_as"] = own[0][1]
        else:
            entry["graded_as"] = f"either ({FULL} or {HALF}, from the loss's response to reg)"
        found[f"{name}_regularisation"] = entry
    return found


def _adam(files: dict[str, Any]) -> dict[str, dict[str, str]]:
    if not (hit := _defining(files, "adam")):
        return {}
    parsed, node = hit
    for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        text = parsed.source.splitlines()[line - 1]
        if (match := ADAM_T.search(text)) and not text.strip().startswith("#"):
            value = match[1]
            graded = "as it is" if value == "0" else "called with t = 0 when the check gives none"
            entry = {"value": value, "evidence": _where(parsed, line), "graded": graded}
            return {"adam_t_default": entry}
    return {"adam_t_default": {"value": "not stated", "evidence": "no setdefault('t', ...)"}}


def _dropout(files: dict[str, Any]) -> dict[str, dict[str, str]]:
    if not (hit := _defining(files, "dropout_forward")):
        return {}
    parsed, node = hit
    text = "\n".join(parsed.source.splitlines()[node.lineno - 1 : node.end_lineno]).lower()
    for pattern, value in ((KEEP, "keep"), (DROP, "drop")):
        if match := pattern.search(text):
            line = node.lineno + text[: match.start()].count("\n")
            return {"dropout_p": {"value": value, "evidence": _where(parsed, line)}}
    return {"dropout_p": {"value": "keep", "evidence": "not stated: the kit's keep assumed"}}


def in_place_upstream(parsed: Any, node: ast.AST) -> str | None:
    """``file:line: code`` where backward ``node`` modifies an upstream-gradient parameter (or
    a plain alias of it, ``dx = dout``) in place: ``+=`` and the like, an item assignment, or
    ``out=`` of a numpy call. None when it does not (as far as the text shows)."""
    if not isinstance(node, ast.FunctionDef):
        return None
    params = [a.arg for a in node.args.posonlyargs + node.args.args]
    tracked = {p for p in params if p != "cache" and p != "self"}
    events: list[tuple[int, int, str, ast.AST]] = [
        (s.lineno, s.col_offset, "assign", s) for s in _assignments(node)
    ]
    events += [
        (c.lineno, c.col_offset, "call", c)
        for c in ast.walk(node)
        if isinstance(c, ast.Call) and any(k.arg == "out" for k in c.keywords)
    ]
    for line, _, what, n in sorted(events, key=lambda e: (e[0], e[1])):
        if what == "call":
            out = next(k.value for k in n.keywords if k.arg == "out")
            if _names(out) & tracked:
                return _where(parsed, line)
            continue
        for target in _targets(n):
            if isinstance(n, ast.AugAssign) and isinstance(target, ast.Name):
                if target.id in tracked:
                    return _where(parsed, line)
            elif isinstance(target, ast.Subscript | ast.Attribute):
                base = target
                while isinstance(base, ast.Subscript | ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in tracked:
                    return _where(parsed, line)
            elif isinstance(target, ast.Name) and isinstance(n, ast.Assign):
                if isinstance(n.value, ast.Name) and n.value.id in tracked:
                    tracked.add(target.id)  # an alias: dx = dout
                else:
                    tracked.discard(target.id)  # rebound to a new array
    return None


def decide(files: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The conventions of the tree(s) ``files`` (dotted name -> ``Parsed``), with evidence."""
    return {**_dropout(files), **_regularisation(files), **_adam(files)}


def adapt(function: str, node: ast.AST, conv: dict[str, dict[str, str]]) -> tuple[list[str], str]:
    """(worker wrappers, note for the function's checks; "" for none) for ``function``."""
    if function == "dropout_forward":  # an unknown mode: CS231n's docstring leaves it open
        if conv.get("dropout_p", {}).get("value") == "drop":
            return ["drop_to_keep", "modes_checked"], (
                "this tree's dropout_forward takes p as the DROP probability "
                f"({conv['dropout_p']['evidence']}); it was called with p = 1 - p_keep"
            )
        return ["modes_checked"], ""
    if function == "spatial_groupnorm_forward" and isinstance(node, ast.FunctionDef):
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        if len(params) == 4 and "G" not in params:  # G in gn_param (some years)
            return ["g_in_param"], (
                f"this tree's spatial_groupnorm_forward{tuple(params)} reads G from "
                "gn_param: it was called with gn_param['G'] = G"
            )
    if (reg := conv.get(f"{function}_regularisation")) is not None:
        return _adapt_reg(function, reg)
    if function == "adam" and conv.get("adam_t_default", {}).get("value") == "1":
        return ["adam_t0"], (
            "this tree's adam starts config['t'] at 1 "
            f"({conv['adam_t_default']['evidence']}); the kit's starts at 0 and increments "
            "before use, so it was called with t = 0 where the check gives no t"
        )
    return [], ""


def _adapt_reg(function: str, reg: dict[str, str]) -> tuple[list[str], str]:
    own, graded = reg["value"], reg["graded_as"]
    wraps = ["half_reg"] if graded == HALF else []
    if "pinned" in reg:
        if own in (FULL, HALF) and own != graded:
            return wraps, (
                f"the assignment pins the L2 term as {reg['pinned']}; this function uses "
                f"{own} ({reg['evidence']}), so it was graded as {graded}"
            )
        return wraps, f"L2 term {graded}, as the assignment pins it ({reg['pinned']})" * bool(wraps)
    if graded == HALF:
        return ["half_reg"], (
            f"this function's L2 term is {HALF} ({reg['evidence']}); the assignment leaves it "
            f"open, so it was accepted: called with 2 * reg to compare with the kit's {FULL}"
        )
    if graded == FULL:
        return [], ""
    return ["reg_either"], (
        f"the code does not show the L2 convention and the assignment leaves it open: {FULL} "
        f"and {HALF} are both accepted (decided from how the loss changes with reg)"
    )

"""Turn reference solutions into student stubs.

A solution module marks each student part with two comment lines at the body's indentation::

    # ***** START OF YOUR CODE *****
    ...reference code...
    # ***** END OF YOUR CODE *****

The stub keeps everything (imports, signatures, docstrings, the markers themselves) and replaces
the code between the markers with one line that raises ``NotImplementedError`` naming the
function, so that "not implemented" is never confused with "wrong".

Regenerate every stub after editing ``solutions/``::

    python -m grader.stubs            # writes assignments/<topic>.py for each solutions/<topic>.py
    python -m grader.stubs --check    # exits 1 and names the topics whose stub is out of date

Standard library only: the grader imports this without numpy.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

START_MARKER = "# ***** START OF YOUR CODE *****"
END_MARKER = "# ***** END OF YOUR CODE *****"
STUB_MESSAGE = "{name}: your code here (see the docstring)"


@dataclass(frozen=True)
class Region:
    """One student region: 1-based line numbers of its two marker lines and their indentation."""

    start_line: int
    end_line: int
    indent: str


def find_regions(source: str, module_name: str) -> list[Region]:
    """Return the student regions of ``source`` in order.

    Raises ValueError naming ``module_name`` and the line for a malformed marker, a START inside
    a region (nesting), an END outside a region, START/END at different indentation, or a
    region still open at the end of the file.
    """
    regions: list[Region] = []
    open_line: int | None = None
    open_indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text == START_MARKER:
            if open_line is not None:
                raise ValueError(
                    f"{module_name}, line {number}: START marker inside the region opened at "
                    f"line {open_line}; regions cannot nest (add the missing END marker)"
                )
            open_line, open_indent = number, line[: len(line) - len(line.lstrip())]
        elif text == END_MARKER:
            if open_line is None:
                raise ValueError(
                    f"{module_name}, line {number}: END marker without a matching START marker"
                )
            indent = line[: len(line) - len(line.lstrip())]
            if indent != open_indent:
                raise ValueError(
                    f"{module_name}, line {number}: END marker indented {len(indent)} columns, "
                    f"its START marker (line {open_line}) {len(open_indent)}"
                )
            regions.append(Region(open_line, number, open_indent))
            open_line = None
        elif "START OF YOUR CODE" in text or "END OF YOUR CODE" in text:
            raise ValueError(
                f"{module_name}, line {number}: malformed marker {text!r}; "
                f"use exactly {START_MARKER!r} or {END_MARKER!r}"
            )
    if open_line is not None:
        raise ValueError(
            f"{module_name}, line {open_line}: START marker never closed (add {END_MARKER!r})"
        )
    return regions


def _function_defs(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(def line, def column, qualified name) of every function, e.g. 'TwoLayerNet.loss'."""
    defs: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    defs.append((child.lineno, child.col_offset, name))
                visit(child, f"{name}.")

    visit(tree, "")
    return defs


def _region_owner(region: Region, defs: list[tuple[int, int, str]], module_name: str) -> str:
    """The function whose body holds the region.

    That is the last ``def`` above the START marker that is indented less than the marker, as
    Python's own indentation rules decide. (The AST's end line cannot be used: the END marker is
    a comment after the function's last statement.)
    """
    owners = [
        (line, name)
        for line, column, name in defs
        if line < region.start_line and column < len(region.indent)
    ]
    if not owners:
        raise ValueError(
            f"{module_name}, line {region.start_line}: student region outside any function"
        )
    return max(owners)[1]


def student_functions(source: str, module_name: str) -> list[tuple[str, Region]]:
    """Each student region with the qualified name of the function that holds it, in order,
    e.g. ``[("affine_forward", Region(...)), ..., ("TwoLayerNet.loss", Region(...))]``.

    Raises ValueError (see find_regions) for unbalanced or nested markers, or a region outside
    any function.
    """
    regions = find_regions(source, module_name)
    defs = _function_defs(ast.parse(source, filename=module_name))
    return [(_region_owner(region, defs, module_name), region) for region in regions]


def make_stub_source(solution_source: str, module_name: str) -> str:
    """Return the stub of a solution module: each region's code becomes one ``raise``.

    Inputs:
    - solution_source: the text of a solution module.
    - module_name: a name for error messages, e.g. 'solutions/losses.py'.

    Returns the stub text; lines outside the regions, and the marker lines, are unchanged.
    Raises ValueError naming the line for unbalanced or nested markers (see find_regions).
    """
    lines = solution_source.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    next_line = 1
    for owner, region in student_functions(solution_source, module_name):
        out.extend(lines[next_line - 1 : region.start_line])  # up to and including START
        message = STUB_MESSAGE.format(name=owner)
        out.append(f'{region.indent}raise NotImplementedError("{message}"){newline}')
        next_line = region.end_line  # END marker and what follows are kept
    out.extend(lines[next_line - 1 :])
    return "".join(out)


def write_stubs(solutions_dir: Path, assignments_dir: Path, topics: Iterable[str]) -> list[Path]:
    """Write ``assignments_dir/<topic>.py`` from ``solutions_dir/<topic>.py`` for each topic.

    Returns the paths written, in the order of ``topics``.
    """
    assignments_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for topic in topics:
        source_path = solutions_dir / f"{topic}.py"
        stub = make_stub_source(source_path.read_text(encoding="utf-8"), str(source_path))
        target = assignments_dir / f"{topic}.py"
        target.write_text(stub, encoding="utf-8")
        written.append(target)
    return written


def stub_drift(solutions_dir: Path, assignments_dir: Path, topics: Iterable[str]) -> list[str]:
    """Topics whose ``assignments_dir/<topic>.py`` is missing or differs from its generated stub."""
    drifted: list[str] = []
    for topic in topics:
        source_path = solutions_dir / f"{topic}.py"
        expected = make_stub_source(source_path.read_text(encoding="utf-8"), str(source_path))
        target = assignments_dir / f"{topic}.py"
        if not target.is_file() or target.read_text(encoding="utf-8") != expected:
            drifted.append(topic)
    return drifted


def solution_topics(solutions_dir: Path) -> list[str]:
    """Topic names of the solution modules in ``solutions_dir`` (files starting with _ skipped)."""
    return sorted(p.stem for p in solutions_dir.glob("*.py") if not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.stubs",
        description="Generate assignments/<topic>.py stubs from solutions/<topic>.py.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any stub is out of date"
    )
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    solutions_dir, assignments_dir = root / "solutions", root / "assignments"
    topics = solution_topics(solutions_dir)
    if args.check:
        drifted = stub_drift(solutions_dir, assignments_dir, topics)
        for topic in drifted:
            print(f"out of date: assignments/{topic}.py (run: python -m grader.stubs)")
        return 1 if drifted else 0
    for path in write_stubs(solutions_dir, assignments_dir, topics):
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""grader/stubs.py: stub generation, marker errors, drift of assignments/, and the stubs raise.

The committed stubs in assignments/ must equal what ``python -m grader.stubs`` generates from
solutions/; when a drift test fails, run that command and commit the result.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest

from grader import registry
from grader.stubs import (
    END_MARKER,
    START_MARKER,
    main,
    make_stub_source,
    solution_topics,
    stub_drift,
    student_functions,
    write_stubs,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR, ASSIGNMENTS_DIR = ROOT / "solutions", ROOT / "assignments"
TOPICS = registry.available()

SOLUTION = f'''"""Module docstring."""

import numpy as np


def double(x: np.ndarray) -> np.ndarray:
    """Return 2 * x."""
    {START_MARKER}
    y = 2 * x

    return y
    {END_MARKER}


class Model:
    """A model."""

    def __init__(self) -> None:
        """Set up."""
        {START_MARKER}
        self.w = np.zeros(3)
        {END_MARKER}

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict."""
        {START_MARKER}
        {END_MARKER}
'''

EXPECTED_STUB = f'''"""Module docstring."""

import numpy as np


def double(x: np.ndarray) -> np.ndarray:
    """Return 2 * x."""
    {START_MARKER}
    raise NotImplementedError("double: your code here (see the docstring)")
    {END_MARKER}


class Model:
    """A model."""

    def __init__(self) -> None:
        """Set up."""
        {START_MARKER}
        raise NotImplementedError("Model.__init__: your code here (see the docstring)")
        {END_MARKER}

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict."""
        {START_MARKER}
        raise NotImplementedError("Model.predict: your code here (see the docstring)")
        {END_MARKER}
'''


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- generation ----------------------------------------------------------------------------------


def test_regions_become_one_raise_naming_the_function():
    assert make_stub_source(SOLUTION, "example.py") == EXPECTED_STUB


def test_stub_of_a_stub_is_unchanged():
    assert make_stub_source(EXPECTED_STUB, "example.py") == EXPECTED_STUB


def test_crlf_line_endings_are_kept():
    stub = make_stub_source(SOLUTION.replace("\n", "\r\n"), "example.py")
    assert stub == EXPECTED_STUB.replace("\n", "\r\n")


def test_student_functions_names_each_region():
    names = [name for name, _ in student_functions(SOLUTION, "example.py")]
    assert names == ["double", "Model.__init__", "Model.predict"]


def _function(body: list[str]) -> str:
    lines = ["def f(x):", '    """Doc."""', *(f"    {line}" for line in body), ""]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (["return x", END_MARKER], 4, "without a matching START"),
        ([START_MARKER, "return x"], 3, "never closed"),
        ([START_MARKER, START_MARKER, "return x", END_MARKER, END_MARKER], 4, "cannot nest"),
        ([START_MARKER, "return x", "# ***** END OF YOUR CODE"], 5, "malformed marker"),
    ],
    ids=["end-without-start", "start-never-closed", "nested", "malformed"],
)
def test_unbalanced_markers_raise_naming_the_line(body, line, reason):
    with pytest.raises(ValueError, match=rf"bad\.py, line {line}: .*{reason}"):
        make_stub_source(_function(body), "bad.py")


def test_end_marker_at_another_indentation_raises():
    source = _function([START_MARKER, "return x"]) + END_MARKER + "\n"
    with pytest.raises(ValueError, match=r"bad\.py, line 5: END marker indented 0 columns"):
        make_stub_source(source, "bad.py")


def test_region_outside_a_function_raises():
    source = f"x = 1\n{START_MARKER}\ny = 2\n{END_MARKER}\n"
    with pytest.raises(ValueError, match=r"bad\.py, line 2: student region outside any function"):
        make_stub_source(source, "bad.py")


def test_write_stubs_and_drift(tmp_path):
    solutions, assignments = tmp_path / "solutions", tmp_path / "assignments"
    solutions.mkdir()
    (solutions / "alpha.py").write_text(SOLUTION, encoding="utf-8")
    (solutions / "beta.py").write_text(SOLUTION, encoding="utf-8")
    assert stub_drift(solutions, assignments, ["alpha", "beta"]) == ["alpha", "beta"]  # missing

    written = write_stubs(solutions, assignments, ["alpha", "beta"])
    assert written == [assignments / "alpha.py", assignments / "beta.py"]
    assert (assignments / "alpha.py").read_text(encoding="utf-8") == EXPECTED_STUB
    assert stub_drift(solutions, assignments, ["alpha", "beta"]) == []

    (assignments / "beta.py").write_text(EXPECTED_STUB + "# edited by hand\n", encoding="utf-8")
    assert stub_drift(solutions, assignments, ["alpha", "beta"]) == ["beta"]


# --- the repository's own solutions and stubs ----------------------------------------------------


def test_every_topic_has_a_solution():
    assert set(TOPICS) <= set(solution_topics(SOLUTIONS_DIR))


def test_committed_stubs_have_not_drifted():
    drifted = stub_drift(SOLUTIONS_DIR, ASSIGNMENTS_DIR, TOPICS)
    assert drifted == [], f"assignments out of date for {drifted}: run python -m grader.stubs"
    assert main(["--check"]) == 0


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef]]:
    found: list[tuple[str, ast.FunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    found.append((f"{node.name}.{item.name}", item))
                elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    found.append((f"{node.name}.__init__", item))
    return found


@pytest.mark.parametrize("topic", TOPICS)
def test_each_public_function_body_is_one_student_region(topic):
    """After the docstring, a function's whole body (return included) lies inside its region:
    the stub then leaves no reference code behind. Helpers the students are given say
    "(given code)" in their docstring and have no region."""
    source = (SOLUTIONS_DIR / f"{topic}.py").read_text(encoding="utf-8")
    regions = dict(student_functions(source, f"solutions/{topic}.py"))
    for name, node in _public_functions(ast.parse(source)):
        assert ast.get_docstring(node), f"{topic}.{name} has no docstring"
        if "(given code)" in ast.get_docstring(node) and name not in regions:
            continue
        assert name in regions, f"{topic}.{name} has no student region"
        region = regions[name]
        for statement in node.body[1:]:
            assert region.start_line < statement.lineno <= statement.end_lineno < region.end_line, (
                f"{topic}.{name}: line {statement.lineno} is outside the student region "
                f"(lines {region.start_line}-{region.end_line})"
            )


# --- the stubs raise NotImplementedError ----------------------------------------------------------


def _stub_call(stub: ModuleType, name: str) -> Callable[[], object]:
    """A call of student function ``name`` (``f`` or ``Class.method``) of a stub module.

    Every stub's region is the first statement of its function (checked below), so it raises
    before it reads an argument: each parameter gets None, and a method runs on a bare instance.
    """
    owner, _, method = name.rpartition(".")
    target = getattr(stub, owner) if owner else None
    function = getattr(target, method) if target is not None else getattr(stub, name)
    params = list(inspect.signature(function).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if target is None:
        return partial(function, *[None] * len(positional))
    if method == "__init__":
        return partial(target, *[None] * (len(positional) - 1))
    try:
        bare = object.__new__(target)
    except TypeError:  # a class with a C base (torch.autograd.Function) makes its own
        bare = target.__new__(target)
    return partial(function, bare, *[None] * (len(positional) - 1))


@pytest.mark.parametrize("topic", TOPICS)
def test_every_stub_function_raises_not_implemented_first(topic):
    stub = _load(ASSIGNMENTS_DIR / f"{topic}.py", f"stub_{topic}")
    source = (ASSIGNMENTS_DIR / f"{topic}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    nodes = dict(_public_functions(tree))
    regions = student_functions(source, f"assignments/{topic}.py")
    assert regions, f"assignments/{topic}.py has no student region"
    for name, region in regions:
        node = nodes[name]
        first = node.body[1] if ast.get_docstring(node) else node.body[0]
        assert isinstance(first, ast.Raise) and region.start_line < first.lineno, (
            f"{topic}.{name}: the stub's first statement is not its NotImplementedError"
        )
        with pytest.raises(NotImplementedError, match=rf"^{re.escape(name)}: your code here"):
            _stub_call(stub, name)()

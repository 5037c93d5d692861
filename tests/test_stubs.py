"""grader/stubs.py: stub generation, marker errors, drift of assignments/, and the stubs raise.

The committed stubs in assignments/ must equal what ``python -m grader.stubs`` generates from
solutions/; when a drift test fails, run that command and commit the result.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

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
TOPICS = solution_topics(SOLUTIONS_DIR)

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


def test_solutions_exist():
    assert {"losses", "backprop"} <= set(TOPICS)


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


def _losses_calls(stub: ModuleType, ref: ModuleType) -> dict[str, Callable[[], object]]:
    W, X = np.full((3, 2), 0.1), np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    y, scores = np.array([0, 1, 0, 1]), np.linspace(-1.0, 1.0, 8).reshape(4, 2)
    calls: dict[str, Callable[[], object]] = {
        name: partial(getattr(stub, name), W, X, y, 0.1)
        for name in [
            "svm_loss_naive",
            "svm_loss_vectorized",
            "softmax_loss_naive",
            "softmax_loss_vectorized",
        ]
    }
    calls["svm_loss"] = partial(stub.svm_loss, scores, y)
    calls["softmax_loss"] = partial(stub.softmax_loss, scores, y)
    calls["l1_regularization"] = partial(stub.l1_regularization, W, 0.1)
    calls["l2_regularization"] = partial(stub.l2_regularization, W, 0.1)
    return calls


def _backprop_calls(stub: ModuleType, ref: ModuleType) -> dict[str, Callable[[], object]]:
    """Backward passes get a valid cache from the reference forward pass."""
    x = np.linspace(-1.0, 1.0, 8).reshape(2, 4)
    w, b = np.full((4, 3), 0.1), np.zeros(3)
    w_max, b_max = np.linspace(-1.0, 1.0, 24).reshape(4, 2, 3), np.zeros((2, 3))
    dout3, dout2 = np.ones((2, 3)), np.ones((2, 2))
    calls: dict[str, Callable[[], object]] = {
        "affine_forward": partial(stub.affine_forward, x, w, b),
        "affine_backward": partial(stub.affine_backward, dout3, ref.affine_forward(x, w, b)[1]),
        "maxout_forward": partial(stub.maxout_forward, x, w_max, b_max),
        "maxout_backward": partial(
            stub.maxout_backward, dout2, ref.maxout_forward(x, w_max, b_max)[1]
        ),
        "affine_relu_forward": partial(stub.affine_relu_forward, x, w, b),
        "affine_relu_backward": partial(
            stub.affine_relu_backward, dout3, ref.affine_relu_forward(x, w, b)[1]
        ),
        "xavier_init": partial(stub.xavier_init, 4, 3, np.random.default_rng(0)),
        "kaiming_init": partial(stub.kaiming_init, 4, 3, np.random.default_rng(0)),
        "TwoLayerNet.__init__": partial(stub.TwoLayerNet, 4, 3, 2),
    }
    for name in ["relu", "sigmoid", "tanh", "leaky_relu", "elu"]:
        cache = getattr(ref, f"{name}_forward")(x)[1]
        calls[f"{name}_forward"] = partial(getattr(stub, f"{name}_forward"), x)
        calls[f"{name}_backward"] = partial(getattr(stub, f"{name}_backward"), x, cache)

    def two_layer_loss() -> object:
        net = object.__new__(stub.TwoLayerNet)  # the stub's __init__ raises too
        net.params = ref.TwoLayerNet(4, 3, 2).params
        net.reg = 0.0
        return net.loss(x, np.array([0, 1]))

    calls["TwoLayerNet.loss"] = two_layer_loss
    return calls


STUB_CALLS = {"losses": _losses_calls, "backprop": _backprop_calls}


@pytest.mark.parametrize("topic", sorted(STUB_CALLS))
def test_every_stub_function_raises_not_implemented(topic):
    stub = _load(ASSIGNMENTS_DIR / f"{topic}.py", f"stub_{topic}")
    ref = _load(SOLUTIONS_DIR / f"{topic}.py", f"reference_{topic}")
    calls = STUB_CALLS[topic](stub, ref)
    source = (ASSIGNMENTS_DIR / f"{topic}.py").read_text(encoding="utf-8")
    expected = [name for name, _ in student_functions(source, f"assignments/{topic}.py")]
    assert sorted(calls) == sorted(expected), "every student function needs a call here"
    for name in expected:
        with pytest.raises(NotImplementedError, match=rf"^{re.escape(name)}: your code here"):
            calls[name]()

"""No points for a trivial impostor: zeros, the first input echoed, seeded random values and a
constant, each of the right structure (generated from ``solutions/`` by ``tests/impostors.py``),
earn nothing on any check of any topic.

Gradient checks count only when the student's forward is right on the same inputs; property,
hygiene and degenerate reference checks only when the function is right at its anchor (see
``grader.checks.anchor``). Speed checks time only right outputs; GPU checks do not run here.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from impostors import KINDS, impostor_source, public_names, write_impostor

from grader import registry
from grader.checks.base import Outcome
from grader.pipeline import grade_topic, sandbox_for

FAILED = {Outcome.WRONG, Outcome.BAD_OUTPUT, Outcome.EXCEPTION, Outcome.NOT_RUN}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("topic", registry.available())
def test_impostor_earns_nothing(course, tmp_path, topic, kind):
    path = write_impostor(course.solutions_dir / f"{topic}.py", kind, tmp_path)
    results, _ = grade_topic(course, topic, path, None, sandbox_for(course))
    scored = [(r.check_id, r.points) for r in results if r.points > 0]
    assert not scored, f"the {kind} impostor of {topic} scored on {scored}"
    assert {r.outcome for r in results} <= FAILED
    # the impostor has the right structure: most checks see a wrong value, not a crash
    wrong = sum(r.outcome is Outcome.WRONG for r in results)
    assert wrong >= len([r for r in results if r.counts]) / 3, f"{kind}: only {wrong} wrong"


def _load(source: str, name: str, tmp_path):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", KINDS)
def test_impostor_answers_what_its_kind_says(course, tmp_path, kind):
    source = impostor_source(course.solutions_dir / "backprop.py", kind)
    module = _load(source, "backprop", tmp_path)
    x = np.arange(-3.0, 3.0).reshape(2, 3)
    out, _ = module.relu_forward(x)
    want = {
        "zeros": np.zeros((2, 3)),
        "echo": x,
        "constant": np.ones((2, 3)),
    }
    assert out.shape == x.shape and out.dtype == x.dtype
    if kind == "random":
        assert np.all(out != np.maximum(x, 0)) and len(np.unique(out)) == out.size
    else:
        np.testing.assert_array_equal(out, want[kind])


def test_impostor_defines_every_public_name(course, tmp_path):
    for topic in registry.available():
        source = (course.solutions_dir / f"{topic}.py").read_text()
        functions, classes = public_names(source)
        assert set(registry.topic(topic).functions) <= set(functions) | set(classes)
        text = impostor_source(course.solutions_dir / f"{topic}.py", "zeros")
        for name in functions + classes:
            assert f"\n{name} = _" in text

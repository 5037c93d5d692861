"""Where the repository keeps each topic's parts, for the tests that go over every topic.

Every topic discovered in ``grader/topics`` has, by convention that ``test_conformance.py``
enforces: ``solutions/<topic>.py``, ``assignments/<topic>.py`` (the generated stub),
``tests/oracle/test_<topic>_oracle.py``, ``tests/topics/test_<topic>_mutants.py`` (``MUTANTS``,
graded by ``assert_caught``), ``tests/topics/test_<topic>_example.py`` (``STUDENT``, the
example submission with the topic's mistakes, and ``MISTAKES``, function -> what is named), a
block in ``autograder.yml`` and a row in README's topic table. Tests that need "the buggy
example of each topic" ask here instead of keeping a list by hand.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def oracle_test(topic: str, root: Path = REPO) -> Path:
    return root / "tests" / "oracle" / f"test_{topic}_oracle.py"


def mutants_test(topic: str, root: Path = REPO) -> Path:
    return root / "tests" / "topics" / f"test_{topic}_mutants.py"


def example_test(topic: str, root: Path = REPO) -> Path:
    return root / "tests" / "topics" / f"test_{topic}_example.py"


def examples(root: Path = REPO) -> Path:
    return root / "examples" / "submissions"


@cache
def load(path: Path) -> ModuleType:
    """Import a test module by path (under a name of its own, so nothing is shadowed)."""
    name = f"_topic_file_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_student(topic: str) -> str | None:
    """The example submission that holds ``topic``'s classic mistakes (``STUDENT`` of its
    example test; None while that test is missing, which test_conformance reports)."""
    path = example_test(topic)
    return getattr(load(path), "STUDENT", None) if path.is_file() else None


def example_module(topic: str) -> Path:
    student = example_student(topic)
    assert student, f"{topic} has no example test declaring STUDENT (see test_conformance.py)"
    return examples() / student / f"{topic}.py"

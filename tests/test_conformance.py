"""A topic is its module: every topic found in grader/topics has the same interface and every
part a topic needs (solution, stub in sync, oracle tests, mutants, an example submission with
its mistakes, an autograder.yml block, a README row). Nothing here lists the topics by hand.

``problems(topic, root)`` is the whole conformance check; the parametrised test runs it on
every discovered topic, and a test on a bare tree shows that it finds each missing part.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest
import topic_files
import yaml
from mutation import Mutant

from grader import docs, registry
from grader.stubs import make_stub_source

TOPICS = registry.available()


def _defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _test_functions(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def _calls(function: ast.FunctionDef, name: str) -> bool:
    return any(
        isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == name
        for n in ast.walk(function)
    )


def _solution_problems(spec: registry.TopicSpec, root: Path) -> list[str]:
    solution = root / "solutions" / f"{spec.name}.py"
    if not solution.is_file():
        return [f"no solution solutions/{spec.name}.py"]
    found = []
    missing = [f for f in spec.functions if f not in _defined_names(solution)]
    if missing:
        found.append(f"solutions/{spec.name}.py does not define {', '.join(missing)}")
    stub = root / "assignments" / f"{spec.name}.py"
    expected = make_stub_source(solution.read_text(encoding="utf-8"), str(solution))
    if not stub.is_file() or stub.read_text(encoding="utf-8") != expected:
        found.append(f"assignments/{spec.name}.py is missing or stale (python -m grader.stubs)")
    return found


def _oracle_problems(spec: registry.TopicSpec, root: Path) -> list[str]:
    path = topic_files.oracle_test(spec.name, root)
    if not path.is_file() or not _test_functions(path):
        return [f"no oracle test {path.relative_to(root)} with a test function"]
    return []


def _mutant_problems(spec: registry.TopicSpec, root: Path) -> list[str]:
    path = topic_files.mutants_test(spec.name, root)
    if not path.is_file():
        return [f"no mutants file {path.relative_to(root)}"]
    mutants = getattr(topic_files.load(path), "MUTANTS", [])
    found = []
    if not mutants or not all(isinstance(m, Mutant) and m.topic == spec.name for m in mutants):
        found.append(f"{path.name}: MUTANTS must be a non-empty list of {spec.name} mutants")
    if not any(_calls(t, "assert_caught") for t in _test_functions(path)):
        found.append(f"{path.name}: no test grades the mutants with assert_caught")
    named = {m.misconception for m in mutants if isinstance(m, Mutant)}
    unnamed = sorted({m.name for m in spec.misconceptions} - named)
    if unnamed:
        found.append(f"{path.name}: no mutant makes the named mistake(s) {unnamed}")
    return found


def _example_problems(spec: registry.TopicSpec, root: Path) -> list[str]:
    path = topic_files.example_test(spec.name, root)
    if not path.is_file():
        return [f"no example test {path.relative_to(root)}"]
    module = topic_files.load(path)
    student, mistakes = getattr(module, "STUDENT", None), getattr(module, "MISTAKES", None)
    found = []
    if not isinstance(student, str) or student == "alice":
        found.append(f"{path.name}: STUDENT must name a buggy example submission")
    elif not (topic_files.examples(root) / student / f"{spec.name}.py").is_file():
        found.append(f"{path.name}: examples/submissions/{student}/{spec.name}.py is missing")
    if not isinstance(mistakes, dict) or not mistakes:
        found.append(f"{path.name}: MISTAKES must map functions to the mistakes named")
        return found
    names = {m.name for m in spec.misconceptions}
    for function, said in mistakes.items():
        said = {said} if isinstance(said, str) else set(said)
        if function not in spec.functions or not said <= names:
            found.append(f"{path.name}: MISTAKES[{function!r}] is not a named mistake of it")
    return found


def _course_problems(spec: registry.TopicSpec, root: Path) -> list[str]:
    found = []
    course = yaml.safe_load((root / "autograder.yml").read_text(encoding="utf-8"))
    if spec.name not in (course.get("topics") or {}):
        found.append(f"autograder.yml has no topics.{spec.name} block")
    if not (topic_files.examples(root) / "alice" / f"{spec.name}.py").is_file():
        found.append(f"examples/submissions/alice/{spec.name}.py (a correct submission) is missing")
    readme = (root / "README.md").read_text(encoding="utf-8")
    if f"| `{spec.name}` |" not in readme:
        found.append(f"README.md has no row for {spec.name} (python -m grader.docs)")
    return found


def problems(topic: str, root: Path = topic_files.REPO) -> list[str]:
    """Everything ``topic`` lacks in the tree at ``root`` (empty when it conforms)."""
    spec = registry.topic(topic)
    return [
        *_solution_problems(spec, root),
        *_oracle_problems(spec, root),
        *_mutant_problems(spec, root),
        *_example_problems(spec, root),
        *_course_problems(spec, root),
    ]


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_every_part(topic):
    assert problems(topic) == []


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_module_has_the_one_interface(topic):
    module = importlib.import_module(f"grader.topics.{topic}")
    assert sorted(module.__all__) == sorted(registry.INTERFACE)
    spec = registry.topic(topic)  # raises TopicError on any breach of the interface
    assert spec.name == module.TOPIC == topic and spec.checks and spec.functions


def test_a_bare_tree_lacks_every_part(tmp_path):
    """On a tree with nothing but an empty README and course, each part is reported missing."""
    (tmp_path / "README.md").write_text("# course\n")
    (tmp_path / "autograder.yml").write_text("topics: {}\n")
    found = "\n".join(problems("dropout", tmp_path))
    for part in (
        "no solution solutions/dropout.py",
        "no oracle test tests/oracle/test_dropout_oracle.py",
        "no mutants file tests/topics/test_dropout_mutants.py",
        "no example test tests/topics/test_dropout_example.py",
        "autograder.yml has no topics.dropout block",
        "README.md has no row for dropout",
        "examples/submissions/alice/dropout.py (a correct submission) is missing",
    ):
        assert part in found


def test_a_stale_stub_and_unnamed_mistakes_are_reported(tmp_path):
    for folder in ("solutions", "assignments", "tests/topics"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "README.md").write_text("# course\n")
    (tmp_path / "autograder.yml").write_text("topics: {}\n")
    repo = topic_files.REPO
    (tmp_path / "solutions" / "dropout.py").write_text(
        (repo / "solutions" / "dropout.py").read_text()
    )
    (tmp_path / "assignments" / "dropout.py").write_text("stale\n")
    (tmp_path / "tests" / "topics" / "test_dropout_mutants.py").write_text(
        "MUTANTS = []\n\ndef test_nothing():\n    assert True\n"
    )
    found = "\n".join(problems("dropout", tmp_path))
    assert "assignments/dropout.py is missing or stale" in found
    assert "MUTANTS must be a non-empty list" in found
    assert "no test grades the mutants with assert_caught" in found
    assert "no mutant makes the named mistake(s)" in found


@pytest.fixture
def fake_topic(tmp_path, monkeypatch):
    """A topic package ``grader.topics.fake`` written by the test; returns its source path."""
    import grader.topics

    folder = tmp_path / "topics"
    folder.mkdir()
    monkeypatch.setattr(grader.topics, "__path__", [*grader.topics.__path__, str(folder)])
    registry.available.cache_clear()
    registry.topic.cache_clear()
    yield folder / "fake.py"
    sys.modules.pop("grader.topics.fake", None)
    registry.available.cache_clear()
    registry.topic.cache_clear()


FAKE = """
from grader.checks.reference import Reference

__all__ = ["TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks"]
TOPIC = "fake"
SUMMARY = "a topic written by a test"
FUNCTIONS = ("double", "halve")
MISCONCEPTIONS = ()
WORKER_SETUP = ""


def checks():
    return [
        Reference(TOPIC, "double", CASE, lambda rng: (1.0,), ("out",)),
        Reference(TOPIC, "halve", "y", lambda rng: (1.0,), ("out",)),
    ]
"""


def test_a_topic_that_follows_the_interface_loads(fake_topic):
    fake_topic.write_text(FAKE.replace("CASE", '"x"'))
    spec = registry.topic("fake")
    assert [c.id for c in spec.checks] == ["fake/double: x", "fake/halve: y"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (("SUMMARY = ", "SUMMARY_ = "), "missing SUMMARY"),
        (('TOPIC = "fake"', 'TOPIC = "fakes"'), "TOPIC is 'fakes', not the module's name"),
        (('"halve")', '"double")'), "FUNCTIONS names a function twice"),
        (('"halve", "y"', '"double", "y"'), "no check for halve"),
        (("CASE", '"hidden: x"'), "declare hidden=True instead"),
        (('"double", CASE', '"triple", CASE'), "topic, function or kind is not this topic's"),
        (("MISCONCEPTIONS = ()", "MISCONCEPTIONS = []"), "MISCONCEPTIONS must be a tuple"),
        (('WORKER_SETUP = ""', 'WORKER_SETUP = "gpu"'), "WORKER_SETUP must be one of"),
    ],
)
def test_a_topic_that_breaks_the_interface_is_named(fake_topic, edit, message):
    fake_topic.write_text(FAKE.replace(*edit).replace("CASE", '"x"'))
    assert "fake" in registry.available()
    with pytest.raises(registry.TopicError, match="grader/topics/fake") as info:
        registry.topic("fake")
    assert message in str(info.value)


def test_an_unknown_topic_says_where_a_topic_lives():
    with pytest.raises(registry.UnknownTopic) as info:
        registry.topic("dropuot")
    text = str(info.value)
    assert "did you mean 'dropout'?" in text and "grader/topics/dropuot.py" in text


def test_readme_topic_table_is_the_generated_one(course):
    readme = (topic_files.REPO / "README.md").read_text(encoding="utf-8")
    assert docs.with_table(readme, docs.topic_table(course)) == readme, (
        "README's topic table is stale: run python -m grader.docs"
    )


def test_the_topic_table_counts_from_the_registry(course):
    table = docs.topic_table(course).splitlines()
    assert len(table) == 2 + len(course.topics)
    for topic, row in zip(course.topics, table[2:]):
        spec = registry.topic(topic)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:3] == [f"`{topic}`", str(len(spec.functions)), str(len(spec.checks))]

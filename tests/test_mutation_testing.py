"""The project measures its own soundness: mutants of ``solutions/`` graded by the kit's grader.

``scripts/mutation_testing.py`` makes the mutants and grades them; ``soundness/REPORT.md`` is
the table of the last full run. Here: the mutator makes valid, distinct mutants of the student
regions only; a check removed from the course (a planted survivor) lowers the kill rate; and a
fixed seeded sample of mutants, graded as in the full run, keeps its kill rate.
"""

from __future__ import annotations

import ast
import importlib
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    """Import scripts/mutation_testing.py by name (its process pool's spawned workers import
    it again by that name, from the sys.path they inherit)."""
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("mutation_testing")


mt = _load_script()

# The CI sample: SAMPLE mutants drawn with SEED from every topic (about 2-3 minutes on a
# 2-core machine). THRESHOLD was set from the first full run (soundness/REPORT.md: 98.4% of
# the non-equivalent mutants killed over the course, 97.9% on this sample: 282 killed, 6
# survived); issue 11 asks for at least 95%, which leaves room for eight more survivors here.
SAMPLE, SEED = 300, 11
THRESHOLD = 0.95


SOURCE = '''"""A module."""

import numpy as np

GIVEN = 1 + 2


def f(x: np.ndarray, n: int = 3) -> np.ndarray:
    """Docstring."""
    # ***** START OF YOUR CODE *****
    y = x.sum(axis=0) + n
    return y.T
    # ***** END OF YOUR CODE *****


def helper(a, b):
    return a * b
'''


def test_mutants_of_a_small_module_are_the_expected_ones():
    found = mt.mutants("demo", SOURCE)
    bodies = {ast.unparse(_function(m.source, "f")) for m in found}
    expected = {
        "y = x.sum(axis=0) - n",  # binop
        "y = x.sum(axis=1) + n",  # constant
        "y = x.sum() + n",  # keyword axis dropped
        "y = x.mean(axis=0) + n",  # call sum -> mean
        "return y",  # transpose dropped
        "return x",  # return argument
        "pass",  # statement removed
    }
    for line in expected:
        assert any(line in body for body in bodies), f"no mutant with {line!r}"
    assert {m.function for m in found} == {"f"}  # helper is outside the student region
    for m in found:
        tree = ast.parse(m.source)  # valid Python
        assert ast.unparse(_function(m.source, "helper")) == "def helper(a, b):\n    return a * b"
        assert "GIVEN = 1 + 2" in m.source and '"""Docstring."""' in ast.unparse(tree)
        mutated, original = _function(m.source, "f"), _function(SOURCE, "f")
        assert ast.dump(mutated.args) == ast.dump(original.args)  # signature untouched
        assert ast.dump(mutated.returns) == ast.dump(original.returns)


def _function(source: str, name: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(source).body if getattr(n, "name", None) == name)


@pytest.fixture(scope="module")
def every_mutant(course) -> dict:
    """{topic: its mutants} (making them all takes a few seconds: once per module)."""
    return {t: mt.all_mutants([t]) for t in course.topics}


def test_mutants_of_the_solutions_are_valid_distinct_and_stable(course, every_mutant):
    for topic in course.topics:
        source = (course.solutions_dir / f"{topic}.py").read_text()
        found = every_mutant[topic]
        assert found, f"no mutant of {topic}"
        assert len({m.id for m in found}) == len(found)
        assert len({m.source_hash for m in found}) == len(found)
        assert all(m.source != source for m in found)
        for m in found[:: max(1, len(found) // 20)]:
            compile(m.source, f"{topic}.py", "exec")


@pytest.mark.parametrize("topic", ["dropout", "optimizers"])
def test_mutant_ids_do_not_depend_on_line_numbers(course, topic):
    source = (course.solutions_dir / f"{topic}.py").read_text()
    shifted = source.replace("\nimport ", "\n\n\nimport ", 1)  # two lines more above
    assert shifted != source
    before, after = mt.mutants(topic, source), mt.mutants(topic, shifted)
    assert [m.id for m in after] == [m.id for m in before]
    assert [m.line for m in after] == [m.line + 2 for m in before]


@pytest.mark.parametrize("topic", ["dropout", "batchnorm"])
def test_the_null_mutant_survives(course, topic):
    """Every function rewritten as mutants are (ast.unparse, spliced in), nothing changed:
    it earns every point, so a mutant is killed by its change and not by the rewriting."""
    source = (course.solutions_dir / f"{topic}.py").read_text()
    null = mt.null_mutant(topic, source)
    assert null.source != source
    assert ast.dump(ast.parse(null.source)) == ast.dump(ast.parse(source))  # same program
    assert mt.grade(course, null).status == "survived"


def _dropout_mutants(function: str) -> list:
    source = (ROOT / "solutions" / "dropout.py").read_text()
    return [m for m in mt.mutants("dropout", source) if m.function == function]


def test_a_removed_check_is_a_survivor_and_lowers_the_kill_rate(course):
    """Planted survivors: with the checks of dropout_backward dropped from the course, its
    mutants that the full course kills survive (nothing else grades that function)."""
    backward = [m for m in _dropout_mutants("dropout_backward") if m.operator != "return argument"]
    full = [mt.grade(course, m) for m in backward]
    killed = [r.id for r in full if r.status == "killed"]
    assert len(killed) >= 4, [(r.id, r.status) for r in full]
    plans = tuple(
        p for p in course.plans["dropout"] if not p.check_id.startswith("dropout/dropout_backward:")
    )
    weakened = replace(course, plans={**course.plans, "dropout": plans})
    planted = {m.id: mt.grade(weakened, m) for m in backward if m.id in killed}
    assert all(r.status == "survived" for r in planted.values()), planted
    before = mt.tally(full, {})
    after = mt.tally([planted.get(r.id, r) for r in full], {})
    assert after.kill_rate < before.kill_rate
    assert after.survived == before.survived + len(killed)


def test_equivalent_mutants_name_existing_mutants_with_a_reason(every_mutant):
    equivalent = mt.load_equivalent()
    ids = {m.id for found in every_mutant.values() for m in found}
    unknown = sorted(set(equivalent) - ids)
    assert not unknown, f"soundness/equivalent.yml lists mutants that no longer exist: {unknown}"
    assert all(len(reason) > 10 for reason in equivalent.values())


def _sample_rate(mutants: list, tmp_path: Path, size: int | None) -> tuple:
    chosen = mt.select(mutants, size, SEED)
    results = mt.run(chosen, 2, tmp_path / "cache.json", progress=lambda line: None)
    equivalent = mt.load_equivalent()
    t = mt.tally(results.values(), equivalent)
    survivors = sorted(
        i for i, r in results.items() if r.status == "survived" and i not in equivalent
    )
    return t, survivors


@pytest.fixture(scope="module")
def sample(every_mutant, tmp_path_factory):
    mutants = [m for found in every_mutant.values() for m in found]
    return _sample_rate(mutants, tmp_path_factory.mktemp("mutants"), SAMPLE)


def test_sample_kill_rate_reaches_the_threshold(sample):
    t, survivors = sample
    assert t.mutants == SAMPLE
    assert t.kill_rate >= THRESHOLD, (
        f"the checks kill {100 * t.kill_rate:.1f}% of the non-equivalent mutants of the seeded "
        f"sample, less than {100 * THRESHOLD:.0f}%; survivors: {survivors} (a check lost? see "
        "soundness/README.md; an equivalent mutant goes into soundness/equivalent.yml)"
    )


@pytest.mark.slow
def test_full_run_kill_rate(every_mutant, tmp_path):
    mutants = [m for found in every_mutant.values() for m in found]
    t, survivors = _sample_rate(mutants, tmp_path, None)
    assert t.kill_rate >= THRESHOLD, f"kill rate {100 * t.kill_rate:.1f}%: {survivors}"

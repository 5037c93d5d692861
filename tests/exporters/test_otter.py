"""``grader export otter``: the real ``otter run`` on the exported autograder gives the kit's
scores, and a submission that patches numpy, ``subprocess`` and otter's checker in otter's
kernel gains nothing (the kit's plugin keeps its code out of the kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.exporters import otter

pytest.importorskip("otter", reason="otter-grader is not installed (pip install -e '.[test]')")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
TOPIC = "losses"  # one topic keeps the otter runs to seconds each
# runs in otter's kernel if otter ever executes the submission: every comparison and every
# otter check passes, and a test that shells out to a grader gets a "passed" back
CHEAT = """
import numpy, subprocess
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
class _Done:
    returncode = 0
    stdout = stderr = "passed"
subprocess.run = lambda *a, **k: _Done()
try:
    import otter.test_files.abstract_test as _t
    for _cls in vars(_t).values():
        if isinstance(_cls, type) and hasattr(_cls, "run"):
            _cls.run = lambda self, env: None
    import otter.test_files.ok_test as _ok
    _ok.OKTestFile.run = lambda self, env: None
    import grader.exporters.otter_case as _case
    _case.check = lambda check_id: None
except Exception:
    pass
"""
STUDENTS = ("alice", "bob", "cheat")


def submission(student: str, folder: Path) -> Path:
    """``folder/<student>/losses.py``: alice's and bob's modules; the cheat is bob's plus CHEAT."""
    path = folder / student / f"{TOPIC}.py"
    path.parent.mkdir(parents=True)
    source = (EXAMPLES / ("bob" if student == "cheat" else student) / f"{TOPIC}.py").read_text()
    path.write_text(source + (CHEAT if student == "cheat" else ""))
    return path


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("otter-subs")
    return {s: submission(s, base) for s in STUDENTS}


@pytest.fixture(scope="module")
def kit_scores(course, submissions, tmp_path_factory) -> dict[str, float]:
    out = tmp_path_factory.mktemp("otter-direct")
    grade_batch(course, [p.parent for p in submissions.values()], out, (TOPIC,))
    return {s: json.loads((out / s / "results.json").read_text())["score"] for s in STUDENTS}


@pytest.fixture(scope="module")
def otter_results(course, submissions, tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("otter-export")
    made = otter.export(course, REPO / "autograder.yml", base / "export", (TOPIC,))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    results = {}
    for student, path in submissions.items():
        out = base / student
        out.mkdir()
        command = [sys.executable, "-m", "otter", "run", "-a", str(made.zips[TOPIC])]
        start = time.perf_counter()
        done = subprocess.run(
            [*command, "-o", str(out), str(path)], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        results[student] = json.loads((out / "results.json").read_text())
        print(f"otter run {student}: {seconds:.1f} s")
    return results


def otter_score(results: dict) -> float:
    return sum(t.get("score") or 0.0 for t in results["tests"])


def test_scores_equal_the_kits(kit_scores, otter_results):
    table = {s: (kit_scores[s], otter_score(otter_results[s])) for s in STUDENTS}
    print("student kit otter", table)
    for student, (kit, got) in table.items():
        assert got == pytest.approx(kit), student
    assert kit_scores["alice"] > kit_scores["bob"]  # the run can tell right from wrong


def test_the_cheat_gains_nothing(kit_scores, otter_results):
    assert otter_score(otter_results["cheat"]) == pytest.approx(kit_scores["bob"])


def test_points_and_visibility_follow_the_course(course):
    files = otter.test_files(course, TOPIC)
    specs = {}
    for text in files.values():
        scope: dict = {}
        exec(text, scope)  # noqa: S102 -- the generated OK-format test, as otter reads it
        specs[scope["test"]["name"]] = scope["test"]
    cases = {
        case["name"]: (points, case["hidden"])
        for spec in specs.values()
        for case, points in zip(spec["suites"][0]["cases"], spec["points"])
    }
    plans = course.plans[TOPIC]
    assert cases == {p.check_id: (p.points, p.visibility != "visible") for p in plans}
    assert any(hidden for _, hidden in cases.values())


def test_feedback_of_a_failed_check_is_the_kits(otter_results):
    failed = [
        t
        for t in otter_results["bob"]["tests"]
        if (t.get("score") or 0) < (t.get("max_score") or 0)
    ]
    assert failed
    assert all(t.get("output") for t in failed)

"""``grader export otter``: the real ``otter run`` on the exported autograder gives the kit's
scores, and a submission that patches numpy, ``subprocess`` and otter's checker in otter's
kernel gains nothing (the kit's plugin keeps its code out of the kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.exporters import otter
from grader.exporters.otter_case import RESULTS_ENV

# real otter run and otter assign, about 70 s: run with --runslow (CI skips it)
pytestmark = pytest.mark.slow

pytest.importorskip("otter", reason="otter-grader is not installed (pip install -e '.[test]')")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
TOPIC = "losses"  # one topic keeps the otter runs to seconds each
# what a submission can do in otter's kernel if otter ever executes it there: every comparison
# passes, a test that shells out to a grader gets a "passed" back, otter's checker marks every
# case passed and the kit's in-kernel reader reports no failure
CHEAT = """
import numpy, subprocess
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
class _Done:
    returncode = 0
    stdout = stderr = "passed"
subprocess.run = lambda *a, **k: _Done()
try:
    from otter.test_files.abstract_test import TestCaseResult as _R
    import otter.test_files.ok_test as _ok
    def _all_pass(self, env):
        self.test_case_results = [_R(c, None, True) for c in self.test_cases]
    _ok.OKTestFile.run = _all_pass
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
def kit_results(course, submissions, tmp_path_factory) -> dict[str, Path]:
    """The kit's own results.json of every student (``grader`` graded directly, no otter)."""
    out = tmp_path_factory.mktemp("otter-direct")
    grade_batch(course, [p.parent for p in submissions.values()], out, (TOPIC,))
    return {s: out / s / "results.json" for s in STUDENTS}


@pytest.fixture(scope="module")
def kit_scores(kit_results) -> dict[str, float]:
    return {s: json.loads(path.read_text())["score"] for s, path in kit_results.items()}


def with_plugins(zip_path: Path, target: Path, plugins: list) -> Path:
    """A copy of the exported ``zip_path`` whose ``otter_config.json`` names ``plugins``."""
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "otter_config.json":
                data = json.dumps({**json.loads(data), "plugins": plugins}).encode()
            dst.writestr(item, data)
    return target


# KitJudge with the student's code let into otter's kernel: only its after_grading protects
LEAKY = """
from grader.exporters.otter_plugin import KitJudge

class Leaky(KitJudge):
    def before_execution(self, submission):
        super().before_execution(submission)
        return submission
"""


def otter_run(zip_path: Path, submission: Path, out: Path, env: dict[str, str]) -> dict:
    """otter's results.json of the real ``otter run`` of ``submission`` on ``zip_path``."""
    out.mkdir()
    command = [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(out)]
    start = time.perf_counter()
    done = subprocess.run([*command, str(submission)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    print(
        f"otter run {submission.parent.name}/{submission.name} on {zip_path.name}: {seconds:.1f} s"
    )
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def run_env(tmp_path_factory) -> dict[str, str]:
    """The otter runs' environment: this checkout's ``grader``, a temp folder of their own."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(tmp_path_factory.mktemp("otter-tmp")),
    }


@pytest.fixture(scope="module")
def exported(course, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("otter-export")
    return otter.export(course, REPO / "autograder.yml", out, (TOPIC,)).zips[TOPIC]


@pytest.fixture(scope="module")
def otter_results(exported, submissions, run_env, tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("otter-runs")
    return {s: otter_run(exported, p, base / s, run_env) for s, p in submissions.items()}


@pytest.fixture(scope="module")
def naive_results(exported, submissions, kit_results, run_env, tmp_path_factory):
    """bob's and the cheat's otter results on the plugin-less export, each with the kit's true
    verdict on it handed to the kernel (what the cases read there)."""
    base = tmp_path_factory.mktemp("otter-naive")
    # no plugin: otter runs the submission in its kernel and the cases read a verdict there
    naive = with_plugins(exported, base / "naive.zip", [])
    return {
        s: otter_run(naive, submissions[s], base / s, {**run_env, RESULTS_ENV: str(kit_results[s])})
        for s in ("bob", "cheat")
    }


def otter_score(results: dict) -> float:
    return sum(t.get("score") or 0.0 for t in results["tests"])


def test_scores_equal_the_kits(kit_scores, otter_results):
    table = {s: (kit_scores[s], otter_score(otter_results[s])) for s in STUDENTS}
    print("student kit otter", table)
    for student, (kit, got) in table.items():
        assert got == pytest.approx(kit), student
    assert kit_scores["alice"] > kit_scores["bob"]  # the run can tell right from wrong


def test_the_cheat_gains_nothing(kit_scores, otter_results, naive_results):
    full = sum(t.get("max_score") or 0.0 for t in otter_results["alice"]["tests"])
    # the contrast: where the verdict is read in the kernel, the honest bob gets the kit's score
    # but the cheat's patches give it every point its true verdict denies it
    assert otter_score(naive_results["bob"]) == pytest.approx(kit_scores["bob"])
    assert kit_scores["cheat"] == pytest.approx(kit_scores["bob"])
    assert kit_scores["cheat"] < full
    assert otter_score(naive_results["cheat"]) == pytest.approx(full)
    # the kit's export: the same cheat gets exactly its true score
    assert otter_score(otter_results["cheat"]) == pytest.approx(kit_scores["cheat"])


def test_after_grading_alone_makes_the_kernel_irrelevant(
    exported, submissions, kit_scores, run_env, tmp_path_factory
):
    base = tmp_path_factory.mktemp("otter-leaky")
    (base / "leaky_judge.py").write_text(LEAKY)
    leaky = with_plugins(exported, base / "leaky.zip", [{"leaky_judge.Leaky": {"topic": TOPIC}}])
    env = {**run_env, "PYTHONPATH": os.pathsep.join([str(base), run_env["PYTHONPATH"]])}
    got = otter_run(leaky, submissions["cheat"], base / "cheat", env)
    assert otter_score(got) == pytest.approx(kit_scores["cheat"])


def test_no_results_file_outlives_the_runs(otter_results, naive_results, run_env):
    left = sorted(p.name for p in Path(run_env["TMPDIR"]).iterdir() if "grader-otter" in p.name)
    assert left == []


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


def filled(student_notebook: Path, module: Path, target: Path) -> Path:
    """``student_notebook`` (otter assign's) with its module cell holding ``module``'s code."""
    notebook = json.loads(student_notebook.read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    cells[0]["source"] = module.read_text()
    target.write_text(json.dumps(notebook))
    return target


def test_otter_assign_master_notebook(
    course, exported, submissions, kit_scores, run_env, tmp_path_factory
):
    master = exported.parent / "master" / f"{TOPIC}.ipynb"
    dist = tmp_path_factory.mktemp("otter-assign") / "dist"
    command = [sys.executable, "-m", "otter", "assign", str(master), str(dist)]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=master.parent)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    student = dist / "student" / f"{TOPIC}.ipynb"
    code = [c for c in json.loads(student.read_text())["cells"] if c["cell_type"] == "code"]
    starter = (course.assignments_dir / f"{TOPIC}.py").read_text()
    assert "".join(code[0]["source"]).strip() == starter.strip()  # no solution, the kit's starter
    handed_out = [p.read_bytes() for p in (dist / "student").rglob("*") if p.is_file()]
    assert handed_out and not any(course.secret.encode() in data for data in handed_out)
    (zip_path,) = (dist / "autograder").glob("*.zip")
    for name in STUDENTS:  # the cheat's patches in its notebook cell gain nothing either
        notebook = filled(student, submissions[name], dist / f"{name}.ipynb")
        got = otter_run(zip_path, notebook, dist / f"out-{name}", run_env)
        assert otter_score(got) == pytest.approx(kit_scores[name]), name

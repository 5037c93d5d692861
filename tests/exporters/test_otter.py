"""``grader export otter``: the real ``otter run`` on the exported autograder gives the kit's
scores, and a submission that patches numpy, ``subprocess`` and otter's checker in otter's
kernel gains nothing (the kit's plugin keeps its code out of the kernel). The master notebook
goes through the real ``otter assign`` (one cell per function; every topic's solution earns
full marks) and the course secret reaches no student: not ``dist/student``, not otter's
output, not the submission folder where otter copies the zip's ``files/``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from secrets import token_hex

import pytest

from grader import config
from grader.batch import grade_batch
from grader.config import ConfigError
from grader.exporters import otter, otter_assign, otter_plugin
from grader.exporters.otter_case import RESULTS_ENV

# real otter run and otter assign, about 2.5 min on 2 busy cores, and the all-topic test about
# 7.5 min (15 topics, 20-45 s each): run with --runslow (CI skips it)
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
def secret_course(course):
    """The course with a secret of its own, so a leak of its value can be looked for."""
    return replace(course, secret=f"otter-test-secret-{token_hex(8)}")


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("otter-subs")
    return {s: submission(s, base) for s in STUDENTS}


@pytest.fixture(scope="module")
def kit_results(secret_course, submissions, tmp_path_factory) -> dict[str, Path]:
    """The kit's own results.json of every student (``grader`` graded directly, no otter)."""
    out = tmp_path_factory.mktemp("otter-direct")
    grade_batch(secret_course, [p.parent for p in submissions.values()], out, (TOPIC,))
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
    (out / "otter-output.txt").write_text(done.stdout + done.stderr)  # for the leak checks
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
def exported(secret_course, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("otter-export")
    return otter.export(secret_course, REPO / "autograder.yml", out, (TOPIC,)).zips[TOPIC]


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


def graded_functions(course, topic: str) -> set[str]:
    return {plan.check_id.split("/", 1)[1].split(":", 1)[0] for plan in course.plans[topic]}


def module_cells(notebook: dict) -> list[dict]:
    """The code cells of an otter assign notebook (its JSON) that hold the module, not otter's
    checks: the notebook's own cell objects, to read or to fill."""
    return [
        c
        for c in notebook["cells"]
        if c["cell_type"] == "code" and not "".join(c["source"]).startswith("grader.check(")
    ]


def filled(course, student_notebook: Path, module: Path, target: Path) -> Path:
    """``student_notebook`` (otter assign's) with ``module``'s code cut into its cells: the
    preamble and each graded function in the cell otter assign made for it."""
    notebook = json.loads(student_notebook.read_text())
    head, segments = otter_assign.split_module(
        module.read_text(), graded_functions(course, TOPIC), str(module)
    )
    for cell, source in zip(module_cells(notebook), [head, *segments.values()], strict=True):
        cell["source"] = source
    target.write_text(json.dumps(notebook))
    return target


@pytest.fixture(scope="module")
def assigned(exported, run_env, tmp_path_factory) -> Path:
    """``otter assign``'s output folder (``dist``) for the exported master notebook."""
    master = exported.parent / "master" / f"{TOPIC}.ipynb"
    dist = tmp_path_factory.mktemp("otter-assign") / "dist"
    command = [sys.executable, "-m", "otter", "assign", str(master), str(dist)]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=master.parent)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return dist


@pytest.fixture(scope="module")
def assigned_results(secret_course, assigned, submissions, run_env) -> dict[str, dict]:
    """otter's results of every student's notebook on otter assign's autograder zip."""
    student = assigned / "student" / f"{TOPIC}.ipynb"
    (zip_path,) = (assigned / "autograder").glob("*.zip")
    results = {}
    for name in STUDENTS:  # the cheat's patches in its notebook cell gain nothing either
        notebook = filled(secret_course, student, submissions[name], assigned / f"{name}.ipynb")
        results[name] = otter_run(zip_path, notebook, assigned / f"out-{name}", run_env)
    return results


def test_student_notebook_has_a_cell_per_function(secret_course, assigned):
    starter = (secret_course.assignments_dir / f"{TOPIC}.py").read_text()
    head, segments = otter_assign.split_module(
        starter, graded_functions(secret_course, TOPIC), TOPIC
    )
    notebook = json.loads((assigned / "student" / f"{TOPIC}.ipynb").read_text())
    got = ["".join(c["source"]).strip() for c in module_cells(notebook)]
    assert got == [part.strip() for part in [head, *segments.values()]]  # the starter's, in order
    assert len(segments) == len(graded_functions(secret_course, TOPIC)) > 1


def test_otter_assign_master_notebook(kit_scores, assigned_results):
    for name in STUDENTS:
        assert otter_score(assigned_results[name]) == pytest.approx(kit_scores[name]), name


def test_the_secret_reaches_no_student(secret_course, assigned, assigned_results):
    secret = secret_course.secret.encode()
    handed_out = [p for p in (assigned / "student").rglob("*") if p.is_file()]
    assert handed_out and not [p for p in handed_out if secret in p.read_bytes()]
    # what otter reports (results.json, the Gradescope page) and prints for every run
    reported = [p for p in assigned.glob("out-*/*") if p.is_file()]
    assert {p.name for p in reported} == {"results.json", "otter-output.txt"}
    assert not [p for p in reported if secret in p.read_bytes()]
    # it is in the instructor's zip, where otter's files/ carries it to the judge
    (zip_path,) = (assigned / "autograder").glob("*.zip")
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.read(f"files/{secret_course.config.secret_file}").strip() == secret


# code in a submission folder's kernel: lists every file under its folder holding the secret
SNOOP = """
import json, os, pathlib
secret = os.environ["GRADER_TEST_SECRET"].encode()
found = [str(p) for p in pathlib.Path(".").rglob("*") if p.is_file() and secret in p.read_bytes()]
pathlib.Path(os.environ["GRADER_TEST_SNOOP"]).write_text(json.dumps(found))
"""


def test_the_submission_folder_holds_no_course_copy(
    secret_course, assigned, run_env, tmp_path_factory
):
    # otter copies the zip's files/ (the course, the secret) into the submission folder; the
    # kit's plugin deletes the copies before anything runs there. Leaky lets the notebook's code
    # into otter's kernel, whose working folder is the submission folder, to look for them.
    base = tmp_path_factory.mktemp("otter-snoop")
    (base / "leaky_judge.py").write_text(LEAKY)
    (zip_path,) = (assigned / "autograder").glob("*.zip")
    leaky = with_plugins(zip_path, base / "leaky.zip", [{"leaky_judge.Leaky": {"topic": TOPIC}}])
    notebook = json.loads((assigned / "student" / f"{TOPIC}.ipynb").read_text())
    first = module_cells(notebook)[0]
    first["source"] = "".join(first["source"]) + SNOOP
    (base / "snoop.ipynb").write_text(json.dumps(notebook))
    found = base / "found.json"
    env = {
        **run_env,
        "PYTHONPATH": os.pathsep.join([str(base), run_env["PYTHONPATH"]]),
        "GRADER_TEST_SECRET": secret_course.secret,
        "GRADER_TEST_SNOOP": str(found),
    }
    otter_run(leaky, base / "snoop.ipynb", base / "out", env)
    assert json.loads(found.read_text()) == []  # the snoop ran and found no copy


def test_cells_need_the_same_function_order(course, tmp_path):
    graded = graded_functions(course, TOPIC)
    starter = (course.assignments_dir / f"{TOPIC}.py").read_text()
    head, segments = otter_assign.split_module(starter, graded, TOPIC)
    first, *rest = segments.values()
    (tmp_path / course.config.assignments).mkdir(parents=True)
    (tmp_path / course.config.assignments / f"{TOPIC}.py").write_text(head + "".join(rest) + first)
    solution = (course.solutions_dir / f"{TOPIC}.py").read_text()
    (tmp_path / course.config.solutions).mkdir(parents=True)
    (tmp_path / course.config.solutions / f"{TOPIC}.py").write_text(solution)
    with pytest.raises(ConfigError, match="different orders"):
        otter_assign.module_cells(replace(course, root=tmp_path), TOPIC, graded)


def test_split_module_keeps_decorators_comments_and_helpers():
    source = (
        '"""Doc."""\nimport functools\n\n\ndef _helper():\n    return 1\n\n\n'
        "# about f\n@functools.cache\ndef f():\n    return _helper()\n\n\n"
        "def _between():\n    return 2\n\n\nclass G:\n    pass\n"
    )
    head, segments = otter_assign.split_module(source, {"f", "G"}, "m.py")
    assert head == '"""Doc."""\nimport functools\n\n\ndef _helper():\n    return 1\n\n\n'
    assert list(segments) == ["f", "G"]
    assert segments["f"].startswith("# about f\n@functools.cache\ndef f():")
    assert "def _between()" in segments["f"]
    assert head + "".join(segments.values()) == source
    with pytest.raises(ConfigError, match="no top-level h"):
        otter_assign.split_module(source, {"f", "h"}, "m.py")


def test_a_case_names_its_check_even_with_quotes_in_the_id():
    # otter assign names its cases "q - 1": the plugin finds the check by the id in the code
    check_id = "dropout/dropout_forward: an unknown mode ('eval', 'Train') raises ValueError"
    body = f">>> from grader.exporters.otter_case import check\n>>> check({check_id!r})\n"
    assert otter_plugin.called_check(body) == check_id
    assert otter_plugin.called_check(">>> check(1)\n") is None
    assert otter_plugin.called_check(">>> print('no check')\n") is None


ALL_TOPICS = tuple(config.load(REPO / "autograder.yml").plans)


def kit_full_marks(course, topic: str, folder: Path) -> float:
    """The kit's score of ``topic``'s reference solution graded directly, asserted to be its
    full marks here (checks that cannot run here, a GPU's without one, count 0 of 0), which is
    also the most it can score here."""
    (folder / "reference").mkdir(parents=True)
    shutil.copy(course.solutions_dir / f"{topic}.py", folder / "reference")
    grade_batch(course, [folder / "reference"], folder / "out", (topic,))
    results = json.loads((folder / "out" / "reference" / "results.json").read_text())
    assert results["score"] == pytest.approx(results["max_score"]) and results["score"] > 0
    return results["score"]


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_every_topics_master_notebook_earns_full_marks(course, topic, run_env, tmp_path):
    # otter assign takes the topic's master notebook; its instructor notebook (the solution)
    # graded by otter run on the zip it made scores the kit's full marks for the topic
    start = time.perf_counter()
    master = otter.export(course, REPO / "autograder.yml", tmp_path / "export", (topic,))
    notebook = master.masters[topic]
    dist = tmp_path / "dist"
    command = [sys.executable, "-m", "otter", "assign", str(notebook), str(dist)]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=notebook.parent)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (zip_path,) = (dist / "autograder").glob("*.zip")
    got = otter_run(zip_path, dist / "autograder" / f"{topic}.ipynb", tmp_path / "out", run_env)
    missed = [t["name"] for t in got["tests"] if (t.get("score") or 0) < (t.get("max_score") or 0)]
    full = kit_full_marks(course, topic, tmp_path / "kit")
    assert otter_score(got) == pytest.approx(full), missed
    # the same most points: a check that cannot run here counts 0 of 0 in both
    assert sum(t.get("max_score") or 0.0 for t in got["tests"]) == pytest.approx(full)
    print(f"{topic}: otter assign + otter run + kit {time.perf_counter() - start:.1f} s")

"""``grader export nbgrader``: real nbgrader (``NbGraderAPI``) generates the assignment,
autogrades students' copies and writes their feedback; the gradebook's scores are the kit's."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.exporters import nbgrader as exporter
from grader.exporters import nbgrader_course as nbc

# real nbgrader autograde, about 110 s (the slow module alone 45): run with --runslow (CI skips it)
pytestmark = pytest.mark.slow

nbgrader_apps = pytest.importorskip(
    "nbgrader.apps", reason="nbgrader is not installed (pip install -e '.[test]')"
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
TOPIC = "dropout"  # 24 checks: one judge run is seconds
# correct, buggy, one function that raises, dave's module as plain code that patches the
# kit's cell_score in the kernel (with an extra cell that patches subprocess.run), and a right
# but slow one whose judge run outlasts nbgrader's default cell timeout
STUDENTS = ("alice", "dave", "raises", "cheat", "slow")
RAISING = "dropout_backward"
NBGRADER_CELL_TIMEOUT_S = 30  # nbgrader's default Execute.timeout
SLOW_S = 7.0  # per dropout_backward call (6 calls): under the kit's 10 s call deadline
PATCH = "import grader.exporters.nbgrader as kit\nkit.cell_score = lambda *a: 1000.0\n"
EXTRA_CELL = "import subprocess\nsubprocess.run = lambda *a, **k: None\n"


def module_of(student: str, folder: Path) -> Path:
    """The student's ``dropout.py`` (``raises``: alice's, with one function that raises;
    ``slow``: alice's, with one function that sleeps first; ``cheat``: dave's with the patch
    appended)."""
    if student not in ("raises", "cheat", "slow"):
        return EXAMPLES / student / f"{TOPIC}.py"
    if student == "raises":
        text = (EXAMPLES / "alice" / f"{TOPIC}.py").read_text()
        text += f"\n\ndef {RAISING}(dout, cache):\n    raise RuntimeError('not done yet')\n"
    elif student == "slow":
        text = (EXAMPLES / "alice" / f"{TOPIC}.py").read_text()
        text += f"\n\nimport time\n\n_right = {RAISING}\n\n\ndef {RAISING}(dout, cache):\n"
        text += f"    time.sleep({SLOW_S})\n    return _right(dout, cache)\n"
    else:
        text = (EXAMPLES / "dave" / f"{TOPIC}.py").read_text() + "\n" + PATCH
    path = folder / f"{TOPIC}.py"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """An exported course taken through generate_assignment, autograde and generate_feedback
    for every student; returns (course folder, the export, {student: {grade_id: score}})."""
    if shutil.which("alembic") is None:
        pytest.skip("nbgrader needs alembic on PATH (the environment's bin folder)")
    base = tmp_path_factory.mktemp("nbgrader_course")
    made = exporter.export(course, REPO / "autograder.yml", base / "exported", (TOPIC,))
    # the course folder is renamed after the export: every score below is from the moved one
    root = (base / "exported").rename(base / "moved")
    for written in (root / "nbgrader_config.py", *root.rglob("*.ipynb")):
        text = written.read_text()  # a relative path may pass through REPO: none starts there
        assert not re.search(f"[\"']{re.escape(str(REPO))}", text) and str(base) not in text
    with nbc.opened(root) as api:
        # the instructor ran the source notebook: the reference module lies beside it
        shutil.copy(course.solutions_dir / f"{TOPIC}.py", root / "source" / TOPIC)
        result = api.generate_assignment(TOPIC)
        assert result["success"], result["log"]
        seconds, scores = {}, {}
        for student in STUDENTS:
            code = module_of(student, tmp_path_factory.mktemp(student)).read_text()
            # cheat: no %%writefile (the cell would run in the kernel) and an extra cell
            cheat = student == "cheat"
            nb = nbc.with_module(nbc.released(root, TOPIC), TOPIC, code, writefile=not cheat)
            if cheat:
                extra = {"cell_type": "code", "id": "extra", "metadata": {}, "outputs": []}
                nb["cells"].insert(2, {**extra, "execution_count": None, "source": EXTRA_CELL})
            nbc.hand_in(root, TOPIC, student, nb)
            start = time.perf_counter()
            result = api.autograde(TOPIC, student, create=True)
            seconds[student] = time.perf_counter() - start
            assert result["success"], result["log"]
            result = api.generate_feedback(TOPIC, student)
            assert result["success"], result["log"]
            scores[student] = nbc.gradebook_scores(api, TOPIC, student)
    print(f"\nnbgrader autograde seconds per submission: {seconds}", file=sys.stderr)
    assert seconds["slow"] > NBGRADER_CELL_TIMEOUT_S  # the exported cell timeout is longer
    return root, made, scores


@pytest.fixture(scope="module")
def kit(course, graded, tmp_path_factory) -> dict[str, dict]:
    """The kit's own results.json of the same modules, graded directly."""
    base = tmp_path_factory.mktemp("direct")
    paths = []
    for student in STUDENTS:
        folder = base / "in" / student
        folder.mkdir(parents=True)
        shutil.copy(module_of(student, tmp_path_factory.mktemp(student)), folder)
        paths.append(folder)
    grade_batch(course, paths, base / "out", (TOPIC,))
    return {s: json.loads((base / "out" / s / "results.json").read_text()) for s in STUDENTS}


def test_gradebook_scores_are_the_kits(course, graded, kit):
    _, made, scores = graded
    rows = []
    for student in STUDENTS:
        expected = nbc.kit_cell_scores(course, kit[student], TOPIC)
        got = {k: v for k, v in scores[student].items() if k in made.cells[TOPIC]}
        rows.append(f"{student}: kit {kit[student]['score']} nbgrader {sum(got.values())}")
        assert got == pytest.approx(expected), student
        assert sum(got.values()) == pytest.approx(kit[student]["score"])
    print("\n" + "\n".join(rows), file=sys.stderr)
    assert kit["dave"]["score"] < kit["alice"]["score"]  # the buggy one lost points
    assert kit["cheat"]["score"] == kit["dave"]["score"]  # the patches gained nothing
    assert kit["slow"]["score"] == kit["alice"]["score"]  # right, and every call in time


def test_student_cells_are_kept_in_the_autograded_notebook(graded):
    root, _, _ = graded
    nb = json.loads((root / "autograded" / "cheat" / TOPIC / f"{TOPIC}.ipynb").read_text())
    assert "".join(nb["cells"][2]["source"]) == EXTRA_CELL
    assert "".join(nb["cells"][1]["source"]).endswith(PATCH)


def test_a_raising_function_zeroes_only_its_own_cell(graded, kit):
    _, made, scores = graded
    raising = scores["raises"]
    assert raising[f"{TOPIC}_{RAISING}"] == 0
    for grade_id, worth in made.cells[TOPIC].items():
        if grade_id != f"{TOPIC}_{RAISING}":
            assert raising[grade_id] == pytest.approx(scores["alice"][grade_id])
            assert scores["alice"][grade_id] == pytest.approx(worth)


def test_hidden_tests_absent_from_release_and_restored_at_autograde(graded):
    root, _, _ = graded
    assert sorted(p.name for p in (root / "release" / TOPIC).iterdir()) == [f"{TOPIC}.ipynb"]
    release = (root / "release" / TOPIC / f"{TOPIC}.ipynb").read_text()
    assert "cell_score" not in release and "BEGIN HIDDEN TESTS" not in release
    assert "BEGIN SOLUTION" not in release and exporter.CODE_STUB in release
    autograded = (root / "autograded" / "alice" / TOPIC / f"{TOPIC}.ipynb").read_text()
    assert "cell_score" in autograded
    for student in ("dave", "raises"):  # raises: the error output is the message alone
        feedback = (root / "feedback" / student / TOPIC / f"{TOPIC}.html").read_text()
        assert "cell_score" not in feedback and "autograder.yml" not in feedback
    assert "not done yet" in feedback and "Exception reporting mode" not in feedback


def test_the_students_module_is_graded_not_the_instructors(graded, kit):
    root, _, _ = graded
    written = (root / "autograded" / "dave" / TOPIC / f"{TOPIC}.py").read_text()
    assert written == (EXAMPLES / "dave" / f"{TOPIC}.py").read_text()

"""``grader export nbgrader --course DIR``: the course as an nbgrader course folder.

``DIR`` gets ``nbgrader_config.py`` and ``source/<topic>/<topic>.ipynb`` per topic:

- one solution cell per topic, a ``%%writefile <topic>.py`` cell that holds the kit's stub and,
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, the reference solution (which comes
  after the stubs and so replaces them in the instructor's copy); ``generate_assignment`` leaves
  the student the stub. The cell only writes the module: student code never runs in the kernel;
- one locked grade cell per function, worth that function's points in ``autograder.yml``, whose
  body is a hidden test region calling :func:`cell_score`. That runs the kit's judge
  (``python -m grader grade``, a subprocess: sandboxed workers, the course config and secret)
  once per kernel on the written module and gives back the function's earned points as the
  cell's result, which nbgrader takes as partial credit; so the gradebook's scores are the
  kit's, check for check. A function that earned nothing raises, with a minimal traceback.

At autograde no student cell runs in the kernel: ``grader.exporters.nbgrader_preprocessors``
writes the module from the solution cell and sets the student's code cells aside around
``Execute`` (a student cell could otherwise patch what the grade cells call).

``nbgrader_config.py`` keeps the instructor's module from being copied over the student's
(``Autograde.exclude_overwriting``) or into the release (``CourseDirectory.ignore``), strips
hidden tests from the feedback (``ClearHiddenTests``) and drops warnings on stderr
(``IgnorePattern``), which would otherwise zero a grade cell, and gives each cell the kit's
time limit for a whole grading run (``Execute.timeout``): the first grade cell runs the judge on
the whole topic, which may take longer than nbgrader's default 30 s. The export is generated
from the registry and ``autograder.yml`` every time.

No absolute path is written anywhere: ``nbgrader_config.py`` holds the path of
``autograder.yml`` relative to the course folder, resolves it from its own ``__file__`` when
nbgrader loads it and puts it in the environment (:data:`CONFIG_ENV`), which the grading kernel
inherits; so the course folder can be renamed or moved with the kit (same relative place) and
grades without exporting again. Nothing released to students names the config or its secret.

This module is imported in the grading kernel: it imports nothing heavy at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.config import Course

NBFORMAT = {"nbformat": 4, "nbformat_minor": 5}
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
CODE_STUB = "# YOUR CODE HERE: fill in the functions above"
IGNORED = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")  # nbgrader's defaults
WARNING_PATTERN = r"Warning"  # stderr outputs that carry a warning are not errors
CONFIG_ENV = "GRADER_NBGRADER_CONFIG"  # autograder.yml for the grade cells, set by the config
CONFIG_TEMPLATE = '''"""nbgrader's configuration (written by grader export nbgrader)."""

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

from grader.exporters.nbgrader_preprocessors import RestoreStudentCells, WriteModules

c = get_config()  # noqa: F821
# the course's autograder.yml, relative to this folder (it can move): the grading kernel
# inherits the environment, so its grade cells find the judge's config here
_here = Path(__file__).resolve().parent
os.environ[{env!r}] = str((_here / {config!r}).resolve())
c.CourseDirectory.course_id = "course"
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
# the module each notebook writes is the student's work: never the instructor's copy
c.Autograde.exclude_overwriting = {exclude!r}
# the instructor's module (written when the source notebook runs) is the reference solution:
# it never goes into the release; at autograde each notebook writes the student's own again
c.CourseDirectory.ignore = {ignore!r}
c.IgnorePattern.pattern = {pattern!r}
c.IgnorePattern.enabled = True
# the first grade cell runs the judge on the whole topic (the later ones read its results):
# the judge's own deadlines bound each call, so the cell gets the kit's limit for a whole run,
# not nbgrader's 30 s per cell (a slow but correct module would lose every grade cell)
c.Execute.timeout = {cell_timeout!r}
# student code never runs in the grading kernel: the module is written, the cells set aside
_steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
_at = _steps.index(Execute)
c.Autograde.autograde_preprocessors = [
    *_steps[:_at], WriteModules, Execute, RestoreStudentCells, *_steps[_at + 1 :]
]
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
'''


@dataclass(frozen=True)
class Export:
    """What ``export`` wrote: the course folder, its notebooks and the points per grade cell."""

    course_dir: Path
    notebooks: tuple[Path, ...]
    cells: dict[str, dict[str, float]]  # topic -> grade_id -> points


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _cell(kind: str, source: str, **nbgrader: object) -> dict:
    cell: dict = {"cell_type": kind, "id": str(nbgrader.get("grade_id", "intro")), "metadata": {}}
    cell["source"] = _lines(source)
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def _module_source(stub: str, reference: str) -> str:
    """The solution cell: the stub, then the reference inside the solution region. The
    reference's ``from __future__`` lines are dropped: they may only open a file."""
    body = "".join(
        line for line in _lines(reference) if not line.startswith("from __future__ import")
    )
    return f"{stub.rstrip()}\n\n\n### BEGIN SOLUTION\n{body.rstrip()}\n### END SOLUTION\n"


def notebook(topic: str, stub: str, reference: str, points: dict) -> dict:
    """The source notebook of ``topic``: ``points`` maps each function to (points, checks,
    hidden checks), in the order the functions are declared. It names no path: the grade
    cells find ``autograder.yml`` through :data:`CONFIG_ENV`."""
    intro = (
        f"# {topic}\n\nWrite your functions in the next cell (it saves `{topic}.py`; run it "
        "after every change). Each grade cell below is one function, graded by the course's "
        "judge with the same checks and points as `grader grade`."
    )
    cells = [
        _cell("markdown", intro),
        _cell(
            "code",
            f"%%writefile {topic}.py\n{_module_source(stub, reference)}",
            grade=False,
            solution=True,
            locked=False,
            grade_id=f"{topic}_module",
        ),
    ]
    for function, (worth, n, hidden) in points.items():
        source = (
            f"# {function}: {n} checks ({hidden} hidden) run by the course's judge\n"
            "### BEGIN HIDDEN TESTS\n"
            "from grader.exporters import nbgrader as _kit\n\n"
            f"_kit.cell_score({topic!r}, {function!r})\n"
            "### END HIDDEN TESTS\n"
        )
        cells.append(
            _cell(
                "code",
                source,
                grade=True,
                solution=False,
                locked=True,
                points=worth,
                grade_id=f"{topic}_{function}",
            )
        )
    meta = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    return {"cells": cells, "metadata": meta, **NBFORMAT}


def export(course: Course, config_path: Path, course_dir: Path, topics: tuple[str, ...]) -> Export:
    """Write the nbgrader course of ``course`` (read from ``config_path``) into ``course_dir``
    for ``topics``: ``nbgrader_config.py`` and ``source/<topic>/<topic>.ipynb``."""
    from grader.exporters.gradescope_run import DEFAULT_TIMEOUT_S as RUN_TIMEOUT_S
    from grader.reports.checklist import listing

    config_rel = os.path.relpath(config_path.resolve(), course_dir.resolve())
    written, cells = [], {}
    for topic in topics:
        points: dict[str, list] = {}
        for row in listing(course, (topic,)):
            entry = points.setdefault(row.function, [0.0, 0, 0])
            entry[0] += row.points
            entry[1] += 1
            entry[2] += row.visibility != "visible"
        stub = (course.assignments_dir / f"{topic}.py").read_text()
        reference = (course.solutions_dir / f"{topic}.py").read_text()
        nb = notebook(topic, stub, reference, {f: tuple(p) for f, p in points.items()})
        path = course_dir / "source" / topic / f"{topic}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n")
        written.append(path)
        cells[topic] = {f"{topic}_{f}": p[0] for f, p in points.items()}
    text = CONFIG_TEMPLATE.format(
        code_stub=CODE_STUB,
        exclude={t: [f"{t}.py"] for t in topics},
        ignore=[*IGNORED, *(f"{t}.py" for t in topics)],
        pattern=WARNING_PATTERN,
        env=CONFIG_ENV,
        config=Path(config_rel).as_posix(),
        cell_timeout=int(RUN_TIMEOUT_S),
    )
    (course_dir / "nbgrader_config.py").write_text(text)
    return Export(course_dir, tuple(written), cells)


# -- in the grading kernel -----------------------------------------------------------------------
_JUDGED: dict[tuple[str, str], dict] = {}  # (topic, module digest) -> the kit's results.json


class Score(float):
    """A grade cell's result: the earned points (``text/plain``, nbgrader's partial credit)
    and, for people, the checks that failed."""

    failed: tuple[str, ...] = ()

    def _repr_markdown_(self) -> str:
        rows = "".join(f"\n- {line}" for line in self.failed)
        return f"**{float(self):g} points**{rows}"


def judge(topic: str, module: Path, config: str) -> dict:
    """The kit's results.json for ``module`` graded on ``topic``, computed once per kernel
    and module content. Raises RuntimeError (with the judge's own words) when it gave none."""
    key = (topic, hashlib.sha256(module.read_bytes()).hexdigest())
    if key not in _JUDGED:
        with tempfile.TemporaryDirectory(prefix="nbgrader-kit-") as tmp:
            submission = Path(tmp) / "submission"
            submission.mkdir()
            (submission / module.name).write_bytes(module.read_bytes())
            out = Path(tmp) / "out"
            cmd = [sys.executable, "-m", "grader", "--config", config, "grade", str(submission)]
            cmd += ["--out", str(out), "--topic", topic]
            # captured: anything the judge prints on stderr would zero the cell
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            results = out / "submission" / "results.json"
            if not results.is_file():
                tail = (done.stdout + done.stderr)[-2000:]
                raise RuntimeError(
                    f"the course's judge gave no results ({done.returncode}):\n{tail}"
                )
            _JUDGED[key] = json.loads(results.read_text())
    return _JUDGED[key]


def _function(test_name: str) -> str:
    """``losses/svm_loss_naive: random N=8`` -> ``svm_loss_naive``."""
    return test_name.split("/", 1)[-1].split(":", 1)[0].strip()


def cell_score(topic: str, function: str) -> Score:
    """The points ``function`` earned from the kit's judge, for the grade cell's result, graded
    with the ``autograder.yml`` that ``nbgrader_config.py`` names in :data:`CONFIG_ENV`."""
    config = os.environ.get(CONFIG_ENV)
    if not config:
        _minimal_traceback()
        raise RuntimeError(
            f"{CONFIG_ENV} is not set: grade from the course folder, whose nbgrader_config.py "
            "sets it (or run grader export nbgrader --course DIR again)"
        )
    module = Path.cwd() / f"{topic}.py"
    if not module.is_file():
        _minimal_traceback()
        raise FileNotFoundError(f"{module.name} was not written: run the cell that writes it")
    results = judge(topic, module, config)
    rows = [t for t in results["tests"] if _function(t["name"]) == function]
    earned = Score(sum(t["score"] for t in rows))
    earned.failed = tuple(
        f"{t['name']}: {t.get('output', '')}".strip()
        for t in rows
        if t["score"] < t["max_score"] and t.get("visibility") != "hidden"
    ) + tuple(
        f"{t['name'].split(':')[0]}: a hidden check failed"
        for t in rows
        if t["score"] < t["max_score"] and t.get("visibility") == "hidden"
    )
    if earned == 0 and rows and sum(t["max_score"] for t in rows) > 0:
        _minimal_traceback()
        raise AssertionError("\n".join(earned.failed) or f"{function}: no points")
    if not rows:  # the module could not be graded at all: the judge's first row says why
        _minimal_traceback()
        reason = results["tests"][0]["output"] if results.get("tests") else results.get("output")
        raise AssertionError(f"{function} was not graded: {reason}")
    return earned


def _minimal_traceback() -> None:
    """Only the exception's message in the cell's error output: the full traceback would show
    the hidden test's lines in the feedback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.InteractiveTB.set_mode(mode="Minimal")  # %xmode would print on stdout

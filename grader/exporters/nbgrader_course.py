"""An exported nbgrader course (``grader export nbgrader``) driven by real nbgrader: open it
with ``NbGraderAPI``, hand in a student's module the way a student does (the released notebook
with the module in its solution cell), read the gradebook's points per grade cell; and the kit's
own points per grade cell, to compare them with.

The nbgrader test (``tests/exporters/test_nbgrader.py``) and ``scripts/agreement_nbgrader.py``
share these steps. nbgrader is imported only when a course is opened.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.exporters.nbgrader_preprocessors import MODULE_SUFFIX

if TYPE_CHECKING:
    from grader.config import Course

CONFIG_FILE = "nbgrader_config.py"  # what export writes; nbgrader reads it from the working folder


@contextmanager
def opened(root: Path) -> Iterator[Any]:
    """``NbGraderAPI`` on the course folder ``root`` with its exported ``nbgrader_config.py``
    (which also points the grading kernels at ``autograder.yml``). The working folder is
    ``root`` while the course is open, as nbgrader's own commands expect."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    root = root.resolve()
    here = os.getcwd()
    os.chdir(root)
    try:
        config = PyFileConfigLoader(CONFIG_FILE, str(root)).load_config()
        config.CourseDirectory.root = str(root)
        config.Exchange.root = str(root / "exchange")
        yield NbGraderAPI(config=config)
    finally:
        os.chdir(here)


def released(root: Path, topic: str) -> dict:
    """The notebook of ``topic`` as ``generate_assignment`` released it to students."""
    return json.loads((root / "release" / topic / f"{topic}.ipynb").read_text())


def with_module(nb: dict, topic: str, code: str, *, writefile: bool = True) -> dict:
    """A copy of the released notebook ``nb`` whose solution cell holds ``code``: after the
    ``%%writefile <topic>.py`` line (a student who filled in the cell) or, ``writefile=False``,
    alone (a student who removed the magic). Raises KeyError when ``nb`` has no such cell."""
    filled = copy.deepcopy(nb)
    grade_id = f"{topic}{MODULE_SUFFIX}"
    for cell in filled["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = f"%%writefile {topic}.py\n{code}" if writefile else code
            return filled
    raise KeyError(f"{grade_id}: the notebook has no solution cell for {topic}")


def hand_in(root: Path, topic: str, student: str, nb: dict) -> Path:
    """Write ``nb`` as ``student``'s submission of ``topic``, where ``autograde`` looks for it:
    ``submitted/<student>/<topic>/<topic>.ipynb``."""
    target = root / "submitted" / student / topic / f"{topic}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb))
    return target


def gradebook_scores(api: Any, topic: str, student: str) -> dict[str, float]:
    """The points of every grade cell (grade_id -> score) of ``student``'s autograded
    ``topic`` notebook, as nbgrader's gradebook holds them."""
    with api.gradebook as gradebook:
        notebook = gradebook.find_submission_notebook(topic, topic, student)
        return {grade.name: float(grade.score) for grade in notebook.grades}


def kit_cell_scores(course: Course, results: dict, topic: str) -> dict[str, float]:
    """The kit's points of ``topic`` per grade cell (``<topic>_<function>``) from one of its
    results.json, every function of the topic present (0 when it earned nothing). A check's
    function is the one ``grader checks`` lists for its id."""
    from grader.reports.checklist import listing

    function = {row.check_id: row.function for row in listing(course, (topic,))}
    scores = {f"{topic}_{name}": 0.0 for name in function.values()}
    for test in results["tests"]:
        if test["name"] in function:
            scores[f"{topic}_{function[test['name']]}"] += float(test["score"])
    return scores

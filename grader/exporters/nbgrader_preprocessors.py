"""nbgrader preprocessors of the exported course (``nbgrader_config.py`` puts them around
``Execute`` in ``autograde``): student code never runs in the grading kernel.

A grade cell's score is only as good as the kernel it runs in: a student cell that runs first
could replace ``subprocess.run`` or the kit's ``cell_score`` and every grade cell would believe
it. So before ``Execute``, :class:`WriteModules` writes each topic's module from the student's
solution cell itself (the text after ``%%writefile``, or the whole cell when the magic was
removed) and replaces every code cell that is not a grade cell with a comment; after it,
:class:`RestoreStudentCells` puts the student's sources back, so the autograded notebook and the
feedback show what the student wrote. The judge grades the written module in its own sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade

STASH = "kit_student_cells"  # resources key: cell index -> the student's source
PLACEHOLDER = "# not run at grading: the course writes this notebook's module itself"
MODULE_SUFFIX = "_module"  # grade_id of the cell that holds a topic's module


def module_text(source: str) -> str:
    """The module a ``%%writefile`` cell writes (its body), or the cell when it has no magic."""
    first, _, rest = source.partition("\n")
    return rest if first.lstrip().startswith("%%writefile") else source


class WriteModules(NbGraderPreprocessor):
    """Write ``<topic>.py`` from the ``<topic>_module`` cell; blank the student's code cells."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        folder = Path(resources["metadata"]["path"])
        stash = resources.setdefault(STASH, {})
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_grade(cell):
                continue
            stash[index] = cell.source
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if grade_id.endswith(MODULE_SUFFIX):
                topic = grade_id.removesuffix(MODULE_SUFFIX)
                (folder / f"{topic}.py").write_text(module_text(cell.source))
            cell.source = PLACEHOLDER
        return nb, resources


class RestoreStudentCells(NbGraderPreprocessor):
    """Put back the sources :class:`WriteModules` set aside."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        for index, source in resources.pop(STASH, {}).items():
            nb.cells[index].source = source
        return nb, resources

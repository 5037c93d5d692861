"""``grader export otter``'s master notebooks: one master notebook per topic for ``otter assign``.

``DIR/<topic>/master/<topic>.ipynb`` holds, in otter assign's v1 format:

- the assignment config (a raw cell): the kit's plugin ``KitJudge`` with the topic, OK-format
  tests, and ``autograder_files`` naming the course that rides in the autograder zip
  (``autograder.yml``, the secret file, ``solutions/``, written next to the notebook; otter puts
  them in the zip's ``files/``, never in the student notebook's folder);
- one solution cell with the topic's module: the solution as a ``BEGIN SOLUTION NO PROMPT`` block
  and the kit's starter file as the prompt, so the student notebook starts from the starter;
- one question per function whose test cells are ``check(<check id>)`` with the check's points
  and visibility; the plugin grades the notebook's code with the kit's judge outside the kernel
  and matches otter's cases to checks by the id in their code.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.config import ConfigError, Course
from grader.exporters.gradescope import _tree

PLUGIN = "grader.exporters.otter_plugin.KitJudge"
SOLUTION_LINE = "# BEGIN SOLUTION NO PROMPT"


def _cell(kind: str, source: str) -> dict[str, object]:
    cell: dict[str, object] = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _config(topic: str, course_files: list[str]) -> str:
    """The ``# ASSIGNMENT CONFIG`` raw cell (YAML; JSON is YAML)."""
    config = {
        "name": topic,
        "plugins": [{PLUGIN: {"topic": topic}}],
        "tests": {"ok_format": True},
        "autograder_files": course_files,
        "run_tests": False,
        "export_cell": False,
        "init_cell": False,
        "check_all_cell": False,
        "generate": True,
    }
    return "# ASSIGNMENT CONFIG\n" + json.dumps(config, indent=1)


def master_notebook(course: Course, topic: str, course_files: list[str]) -> dict[str, object]:
    """The master notebook (nbformat 4 JSON) of ``topic``."""
    solution = (course.solutions_dir / f"{topic}.py").read_text(encoding="utf-8")
    starter = (course.assignments_dir / f"{topic}.py").read_text(encoding="utf-8")
    if "'''" in starter:
        raise ConfigError(f"{topic}.py's starter holds ''' (the master notebook's prompt quote)")
    module = f"{SOLUTION_LINE}\n{solution.rstrip()}\n# END SOLUTION\n"
    module += f"''' # BEGIN PROMPT\n{starter.rstrip()}\n''' # END PROMPT"
    cells = [_cell("raw", _config(topic, course_files)), _cell("markdown", f"# {topic}")]
    by_function: dict[str, list] = {}
    for plan in course.plans[topic]:
        by_function.setdefault(plan.check_id.split("/", 1)[1].split(":", 1)[0], []).append(plan)
    for n, (function, plans) in enumerate(by_function.items()):
        name = f"{topic}-{function}"
        cells.append(_cell("raw", f"# BEGIN QUESTION\nname: {name}\nmanual: false"))
        cells.append(_cell("markdown", f"Implement `{function}` (see its docstring)."))
        if n == 0:  # the whole module is one cell: it is one file for the kit's judge
            cells.append(_cell("raw", "# BEGIN SOLUTION"))
            cells.append(_cell("code", module))
            cells.append(_cell("raw", "# END SOLUTION"))
        cells.append(_cell("raw", "# BEGIN TESTS"))
        for plan in plans:
            hidden = str(plan.visibility != "visible").lower()
            cells.append(
                _cell(
                    "code",
                    f'""" # BEGIN TEST CONFIG\npoints: {plan.points}\nhidden: {hidden}\n'
                    '""" # END TEST CONFIG\n'
                    "from grader.exporters.otter_case import check\n"
                    f"check({plan.check_id!r})",
                )
            )
        cells.append(_cell("raw", "# END TESTS"))
        cells.append(_cell("raw", "# END QUESTION"))
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_master(course: Course, config_path: Path, out: Path, topic: str) -> Path:
    """Write ``out/<topic>/master/<topic>.ipynb`` and the course files it names; its path."""
    folder = out / topic / "master"
    files = {name: path.read_bytes() for name, path in _tree(course.solutions_dir, "solutions")}
    files["autograder.yml"] = config_path.read_bytes()
    files[course.config.secret_file] = (course.secret + "\n").encode()
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    course_files = sorted({name.split("/", 1)[0] for name in files})
    notebook = folder / f"{topic}.ipynb"
    notebook.write_text(json.dumps(master_notebook(course, topic, course_files), indent=1))
    return notebook

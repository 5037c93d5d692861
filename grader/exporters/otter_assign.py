"""``grader export otter``'s master notebooks: one master notebook per topic for ``otter assign``.

``DIR/<topic>/master/<topic>.ipynb`` holds, in otter assign's v1 format:

- the assignment config (a raw cell): the kit's plugin ``KitJudge`` with the topic, OK-format
  tests, and ``autograder_files`` naming the course that rides in the autograder zip
  (``autograder.yml``, the secret file, ``solutions/``, written next to the notebook; otter puts
  them in the zip's ``files/``, never in ``dist/student``; at grading otter copies ``files/``
  into the submission folder and the plugin removes those copies first, ``KitJudge``);
- one question per graded function (in the module's order), whose solution cell holds that
  function: the solution's segment as a ``BEGIN SOLUTION NO PROMPT`` block and the starter's
  (``assignments/<topic>.py``) as the prompt, so the student notebook starts from the starter.
  The module's preamble (docstring, imports, constants, helpers before the first graded
  function) is a cell of its own at the head of the first question; a helper between graded
  functions stays with the function before it. The notebook's code cells joined in order
  (``otter_plugin.module_source``) are the starter for a student, the solution for the
  instructor;
- each question's test cells are ``check(<check id>)`` with the check's points and visibility;
  the plugin grades the notebook's code with the kit's judge outside the kernel and matches
  otter's cases to checks by the id in their code.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from grader.config import ConfigError, Course
from grader.exporters.gradescope import _tree

PLUGIN = "grader.exporters.otter_plugin.KitJudge"
SOLUTION_LINE = "# BEGIN SOLUTION NO PROMPT"
# what otter assign rewrites or drops in a cell's lines: a module holding one would change
MARKERS = re.compile(r"# ?SOLUTION|# (BEGIN |END )?(PROMPT|IGNORE)\b|# SEED\b")
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


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


def split_module(source: str, graded: set[str], where: str) -> tuple[str, dict[str, str]]:
    """``source`` cut at each graded top-level definition: its preamble and, in the module's
    order, each graded function's segment (its decorators and the comments right above it,
    down to the next graded function: a helper in between stays with the function before it).
    The preamble and the segments joined in order are ``source``. Raises ``ConfigError``
    (naming ``where``) when a graded function is missing or defined twice."""
    lines = source.splitlines(keepends=True)
    starts: dict[str, int] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, DEFINITIONS) or node.name not in graded:
            continue
        if node.name in starts:
            raise ConfigError(f"{where} defines the graded function {node.name} twice")
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        while first > 0 and lines[first - 1].startswith("#"):
            first -= 1
        starts[node.name] = first
    if missing := sorted(graded - set(starts)):
        raise ConfigError(
            f"{where} has no top-level {', '.join(missing)} (autograder.yml grades them)"
        )
    names = list(starts)
    bounds = [*starts.values(), len(lines)]
    segments = {name: "".join(lines[bounds[i] : bounds[i + 1]]) for i, name in enumerate(names)}
    return "".join(lines[: bounds[0]]), segments


def _solution_cell(solution: str, starter: str) -> dict[str, object]:
    """A code cell: ``solution`` for the instructor, ``starter`` as the student's prompt."""
    code = f"{SOLUTION_LINE}\n{solution.strip()}\n# END SOLUTION\n"
    # a raw string: the instructor's notebook runs it, whatever backslashes the starter holds
    return _cell("code", code + f"r''' # BEGIN PROMPT\n{starter.strip()}\n''' # END PROMPT")


def module_cells(course: Course, topic: str, graded: set[str]) -> dict[str, list[dict]]:
    """The solution cells of each graded function of ``topic``, in the module's order: one cell
    per function, the first function's preceded by the preamble's. The starter and the solution
    must define the graded functions in the same order (``ConfigError`` otherwise)."""
    paths = {
        "solution": course.solutions_dir / f"{topic}.py",
        "starter": course.assignments_dir / f"{topic}.py",
    }
    texts = {kind: path.read_text(encoding="utf-8") for kind, path in paths.items()}
    if "'''" in texts["starter"]:
        raise ConfigError(f"{topic}.py's starter holds ''' (the master notebook's prompt quote)")
    for kind, text in texts.items():
        if found := MARKERS.search(text):
            raise ConfigError(
                f"{paths[kind]} holds {found[0]!r}, a marker otter assign would act on: "
                "reword that line"
            )
    solution_head, solution = split_module(texts["solution"], graded, str(paths["solution"]))
    starter_head, starter = split_module(texts["starter"], graded, str(paths["starter"]))
    if list(solution) != list(starter):
        raise ConfigError(
            f"{paths['starter']} and {paths['solution']} define the graded functions in "
            f"different orders ({', '.join(starter)} / {', '.join(solution)}): the master "
            "notebook has a cell per function, so put them in the same order"
        )
    cells = {name: [_solution_cell(solution[name], starter[name])] for name in starter}
    if solution_head.strip() or starter_head.strip():
        cells[next(iter(cells))].insert(0, _solution_cell(solution_head, starter_head))
    return cells


def _tests(plans: list) -> list[dict[str, object]]:
    """The test cells of a question: one ``check(<check id>)`` per plan."""
    cells = []
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
    return cells


def master_notebook(course: Course, topic: str, course_files: list[str]) -> dict[str, object]:
    """The master notebook (nbformat 4 JSON) of ``topic``."""
    by_function: dict[str, list] = {}
    for plan in course.plans[topic]:
        by_function.setdefault(plan.check_id.split("/", 1)[1].split(":", 1)[0], []).append(plan)
    cells = [_cell("raw", _config(topic, course_files)), _cell("markdown", f"# {topic}")]
    for function, solution_cells in module_cells(course, topic, set(by_function)).items():
        cells.append(_cell("raw", f"# BEGIN QUESTION\nname: {topic}-{function}\nmanual: false"))
        cells.append(_cell("markdown", f"Implement `{function}` (see its docstring)."))
        cells.append(_cell("raw", "# BEGIN SOLUTION"))
        cells.extend(solution_cells)
        cells.append(_cell("raw", "# END SOLUTION"))
        cells.append(_cell("raw", "# BEGIN TESTS"))
        cells.extend(_tests(by_function[function]))
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

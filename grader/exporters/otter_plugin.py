"""The otter plugin of exported autograders: the kit's judge grades, the student's kernel does not.

otter runs a submission's ``.py`` (or notebook) in its grading kernel before the tests, and a
submission can patch anything there (``subprocess.run``, numpy, otter's own checker). This
plugin, shipped in the kit's installed package rather than in the zip, closes that:

- ``before_execution`` grades the submission with ``grader grade`` in a child process (student
  code runs only in the kit's sandboxed workers), keeps the verdict in memory (no file outlives
  the run) and hands otter's kernel a comment instead of the student's code;
- on creation it deletes what otter copied from the zip's ``files/`` into the submission folder
  (an ``otter assign`` zip carries the course there, its secret included): nothing the
  student's code or otter's kernel can reach there holds the course;
- ``after_grading`` rebuilds otter's results from the zip's tests and the judge's verdict, so
  nothing the kernel did or reported (a patched checker, a crash) reaches the score.

Whatever goes wrong, the verdict is a score-0 result with the reason, so a run never ends
without results. The plugin's config in ``otter_config.json`` is ``{"topic": NAME}``.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any

from grader.exporters import gradescope_run

try:  # otter imports this module; the kit itself never needs otter
    from otter.plugins import AbstractOtterPlugin
except ImportError:  # pragma: no cover -- only without otter installed
    AbstractOtterPlugin = object  # type: ignore[assignment,misc]


def judge(submission: Path, source: Path, topic: str) -> dict[str, Any]:
    """The kit's results.json for ``submission`` (one module) graded as ``topic`` with the
    course of ``source`` (the unpacked zip), or a score-0 result saying why not."""
    timeout_s = float(os.environ.get(gradescope_run.RUN_TIMEOUT_ENV) or 600)
    try:
        with tempfile.TemporaryDirectory(prefix="grader-otter-") as tmp:
            root = Path(tmp)
            # a tree of its own: otter's submission folder also holds its tests and __init__.py
            (root / "submission").mkdir()
            (root / "source").symlink_to(source.resolve())
            (root / "submission" / f"{topic}.py").write_text(module_source(submission))
            return gradescope_run.grade(root, [topic], timeout_s)
    except gradescope_run.GradingFailed as exc:
        return gradescope_run.failed_result(str(exc))
    except Exception:  # noqa: BLE001 -- whatever broke, the student gets a result
        traceback.print_exc()
        return gradescope_run.failed_result("the autograder failed (not your fault)")


# top-level lines otter puts in a student notebook (its checks), which are not the student's module
OTTER_LINES = re.compile(
    r"(import otter\b|grader = otter\.Notebook\(|grader\.(check|check_all|export)\()"
)


def module_source(submission: Path) -> str:
    """The ``.py`` the judge grades: the file itself, or a notebook's code cells joined in order
    without IPython magics, shell lines (no Python) and otter's own top-level check calls."""
    if submission.suffix != ".ipynb":
        return submission.read_text(encoding="utf-8")
    cells = json.loads(submission.read_text(encoding="utf-8")).get("cells", [])
    chunks = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            lines = ("".join(source) if isinstance(source, list) else source).splitlines()
            keep = [
                ln
                for ln in lines
                if not ln.lstrip().startswith(("%", "!")) and not OTTER_LINES.match(ln)
            ]
            chunks.append("\n".join(keep))
    return "\n\n".join(chunks) + "\n"


def remove_course_copies(files: Path, submission: Path) -> None:
    """Delete from ``submission``'s folder the copy of every entry of ``files``.

    Before it grades, otter copies each entry of the zip's ``files/`` into the submission folder,
    next to the student's notebook (otter 7.0.0, ``otter/run/run_autograder/runners/
    abstract_runner.py``, ``AbstractLanguageRunner.prepare_files``)::

        if os.path.exists("./source/files"):
            for file in os.listdir("./source/files"):
                ...
                    shutil.copy(fp, "./submission")

    For a zip from the kit's master notebook these are the course's ``autograder.yml``,
    ``solutions/`` and the secret. otter builds its plugins right after that (``PythonRunner.run``)
    and before the kernel starts, so deleting them here leaves them in ``files/`` only, where
    the judge reads them (``KitJudge.course``). The student's file itself is never deleted.
    """
    if not files.is_dir():
        return
    for entry in files.iterdir():
        copy = submission.parent / entry.name
        if copy == submission or not (copy.exists() or copy.is_symlink()):
            continue
        if copy.is_dir() and not copy.is_symlink():
            shutil.rmtree(copy)
        else:
            copy.unlink()


# a case's ``check(<check id>)`` line; the id is a Python string literal (it may hold quotes)
CHECK_CALL = re.compile(r"\bcheck\((?P<id>.+)\)\s*$", re.MULTILINE)


def called_check(body: str) -> str | None:
    """The check id in the ``check(...)`` call of a case's code ``body``, if any."""
    found = CHECK_CALL.search(body)
    try:
        check_id = ast.literal_eval(found["id"]) if found else None
    except (ValueError, SyntaxError):
        return None
    return check_id if isinstance(check_id, str) else None


class KitJudge(AbstractOtterPlugin):  # type: ignore[misc,valid-type]
    """otter plugin: grade with the kit's judge out of the kernel, blank the kernel's input, and
    write the judge's verdict over whatever the kernel reported."""

    def __init__(self, submission_path: str, submission_metadata: Any, plugin_config: Any):
        self.submission_path = submission_path
        self.submission_metadata = submission_metadata
        self.plugin_config = plugin_config or {}
        self.verdict: dict[str, Any] | None = None
        remove_course_copies(self.source / "files", Path(submission_path))

    @property
    def source(self) -> Path:
        """The unpacked autograder zip (otter's ``source`` folder next to ``submission``)."""
        return Path(self.submission_path).parent.parent / "source"

    @property
    def course(self) -> Path:
        """Where the zip's course is: its root (``grader export otter``) or ``files/`` (a zip
        ``otter assign`` made from the kit's master notebook, ``autograder_files``)."""
        root = self.source
        return root if (root / "autograder.yml").exists() else root / "files"

    def before_execution(self, submission: Any) -> Any:
        """Grade ``submission``'s file with the judge (kept in memory: no file outlives the run)
        and return what otter's kernel runs instead of the student's code: nothing."""
        path = Path(self.submission_path)
        topic = str(self.plugin_config.get("topic", path.stem))
        self.verdict = judge(path, self.course, topic)
        code = "# graded by the course kit's judge, outside this kernel\n"
        if isinstance(submission, str):
            return code
        import nbformat  # a notebook submission: one cell, same effect

        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])

    def after_grading(self, results: Any) -> None:
        """Replace every test file of ``results`` by the course's own, its case results taken
        from the judge's verdict: what the kernel reported (even a crash) counts for nothing."""
        from otter.test_files.abstract_test import TestCaseResult
        from otter.test_files.ok_test import OKTestFile

        verdict = self.verdict or gradescope_run.failed_result("the kit's judge did not run")
        rows = {row["name"]: row for row in verdict.get("tests", [])}
        fresh = {}
        for path in sorted((self.source / "tests").glob("*.py")):
            test_file = OKTestFile.from_file(str(path))
            test_file.test_cases = [counted(case, rows) for case in test_file.test_cases]
            test_file.test_case_results = [
                case_result(TestCaseResult, case, rows, verdict) for case in test_file.test_cases
            ]
            fresh[test_file.name] = test_file
        results.results = fresh
        results._catastrophic_error = None  # the kernel's failure is not the student's result


def _row(case: Any, rows: dict[str, Any]) -> dict[str, Any] | None:
    """The judge's row of ``case``'s check in ``rows``: by the case's name, or by the check id
    in its code (otter assign names cases "q - 1")."""
    row = rows.get(case.name)
    if row is None and (check_id := called_check(str(case.body))):
        row = rows.get(check_id)
    return row


def counted(case: Any, rows: dict[str, Any]) -> Any:
    """``case`` worth what the judge's row of its check is worth: a check that cannot run on
    this grader (a GPU's without a GPU) counts 0 of 0 in the kit, and so it does in otter."""
    row = _row(case, rows)
    worth = row.get("max_score") if row is not None else None
    if not isinstance(worth, (int, float)) or worth == case.points:
        return case
    return dataclasses.replace(case, points=float(worth))


def case_result(make: Any, case: Any, rows: dict[str, Any], verdict: dict[str, Any]) -> Any:
    """otter's ``TestCaseResult`` of ``case`` from the judge's row of its check in ``rows``;
    without a row the case fails with the verdict's overall output."""
    row = _row(case, rows)
    if row is None:
        return make(case, verdict.get("output") or f"not graded: {case.name} has no result", False)
    passed = row.get("status") == "passed" and row.get("score", 0) >= row.get("max_score", 0)
    return make(case, None if passed else (row.get("output") or row.get("status")), passed)

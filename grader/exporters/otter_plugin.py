"""The otter plugin of exported autograders: the kit's judge grades, the student's kernel does not.

otter runs a submission's ``.py`` (or notebook) in its grading kernel before the tests, and a
submission can patch anything there (``subprocess.run``, numpy, otter's own checker). This
plugin, shipped in the kit's installed package rather than in the zip, closes that:

- ``before_execution`` grades the submission with ``grader grade`` in a child process (student
  code runs only in the kit's sandboxed workers), writes the results to a private file, and
  hands otter, instead of the student's code, one line that tells the kernel where that file is;
- the tests' cases (``grader.exporters.otter_case.check``) only read that file.

Whatever goes wrong, the file holds a score-0 result with the reason, so a run never ends
without results. The plugin's config in ``otter_config.json`` is ``{"topic": NAME}``.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

from grader.exporters import gradescope_run
from grader.exporters.otter_case import RESULTS_ENV

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
            (root / "submission" / f"{topic}.py").write_bytes(submission.read_bytes())
            return gradescope_run.grade(root, [topic], timeout_s)
    except gradescope_run.GradingFailed as exc:
        return gradescope_run.failed_result(str(exc))
    except Exception:  # noqa: BLE001 -- whatever broke, the student gets a result
        traceback.print_exc()
        return gradescope_run.failed_result("the autograder failed (not your fault)")


class KitJudge(AbstractOtterPlugin):  # type: ignore[misc,valid-type]
    """otter plugin: grade with the kit's judge out of the kernel; blank the kernel's input."""

    def __init__(self, submission_path: str, submission_metadata: Any, plugin_config: Any):
        self.submission_path = submission_path
        self.submission_metadata = submission_metadata
        self.plugin_config = plugin_config or {}

    def before_execution(self, submission: Any) -> Any:
        """Return what otter's kernel runs instead of ``submission``: one assignment."""
        path = Path(self.submission_path)
        topic = str(self.plugin_config.get("topic", path.stem))
        data = judge(path, path.parent.parent / "source", topic)
        fd, results = tempfile.mkstemp(prefix="grader-otter-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        code = f"import os\nos.environ[{RESULTS_ENV!r}] = {results!r}\n"
        if isinstance(submission, str):
            return code
        import nbformat  # a notebook submission: one cell, same effect

        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])

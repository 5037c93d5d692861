"""What an exported otter test case runs in otter's grading kernel: it reads the kit's verdict.

With the kit's plugin (``grader.exporters.otter_plugin.KitJudge``) the kernel never sees the
student's code and the plugin writes the judge's verdict over whatever these cases report, so
``check`` only matters without the plugin: then it reads a results.json whose path is in
``RESULTS_ENV`` (and says "not graded" when there is none), printing nothing when the check
passed (the doctest's expected output) and the kit's feedback otherwise. Reading a verdict in
the kernel is exactly what a submission can fake (tests/exporters/test_otter.py shows it).
"""

from __future__ import annotations

import json
import os

RESULTS_ENV = "GRADER_OTTER_RESULTS"


def check(check_id: str) -> None:
    """Print the kit's feedback for ``check_id`` unless it passed with full points."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        print("not graded: the kit's otter plugin did not run (grader.exporters.otter_plugin)")
        return
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    rows = {row["name"]: row for row in data.get("tests", [])}
    row = rows.get(check_id)
    if row is None:
        print(data.get("output") or f"not graded: {check_id} has no result")
        return
    if row.get("status") != "passed" or row.get("score", 0) < row.get("max_score", 0):
        print(row.get("output") or row.get("status"))

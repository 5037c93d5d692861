"""What an exported otter test case runs in otter's grading kernel: it reads the kit's verdict.

The kernel never grades. ``grader.exporters.otter_plugin.KitJudge`` (run by otter in its own
process, before the kernel starts) has the kit's judge grade the submission in fresh processes
and writes the results to a file whose path it gives the kernel in ``RESULTS_ENV``; every case
calls ``check(check_id)``, which prints nothing when the check passed (the doctest's expected
output) and the kit's feedback otherwise, so the case fails with that feedback.
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

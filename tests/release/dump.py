"""Grade example submissions on the public checks of one course tree and print the feedback as
JSON lines: run with the tree's own ``grader`` first on ``PYTHONPATH`` (an instructor tree and a
release hold different copies of the package, so each is graded in a process of its own).

``python dump.py COURSE_ROOT TOPICS SUBMISSION...`` (TOPICS comma-separated); every course is
graded under the public secret, the one a release holds answers for.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from grader import config
from grader.layouts import select
from grader.pipeline import grade_submission


def main(root: str, topics: str, *submissions: str) -> None:
    course = dataclasses.replace(config.load(Path(root) / "autograder.yml"), secret="public")
    chosen = tuple(topics.split(","))
    for path in submissions:
        with tempfile.TemporaryDirectory() as scratch:
            sub = select.submission(Path(path), chosen, Path(scratch), "kit")
            report = grade_submission(course, sub, chosen, only_public=True)
        for r in report.results:
            row = {
                "student": Path(path).name,
                "check": r.check_id,
                "kind": r.kind,
                "outcome": r.outcome.value,
                "misconception": r.misconception,
                "message": r.message,
                "warnings": list(r.warnings),
            }
            print(json.dumps(row))


if __name__ == "__main__":
    main(*sys.argv[1:])

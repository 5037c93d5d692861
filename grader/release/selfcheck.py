"""``python -m grader.release.selfcheck KIT SUBMISSION``: grade SUBMISSION on the public checks
of the kit at KIT with the kit's own grader (run it with the kit first on ``PYTHONPATH``) and
print one JSON object per check: what ``grader validate --release`` reads."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from grader import config
from grader.layouts import select
from grader.pipeline import grade_submission


def main(kit: str, submission: str) -> int:
    course = config.load(Path(kit) / config.CONFIG_NAME)
    with tempfile.TemporaryDirectory() as scratch:
        sub = select.submission(Path(submission), course.topics, Path(scratch), "kit")
        report = grade_submission(course, sub, course.topics, only_public=True)
    for r in report.results:
        row = {
            "check": r.check_id,
            "outcome": r.outcome.value,
            "points": r.points,
            "max_points": r.max_points,
            "counts": r.counts,
            "message": (r.message or "").splitlines()[0] if r.message else "",
        }
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

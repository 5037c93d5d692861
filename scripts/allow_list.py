"""Print what a grading worker can read and write, seen from inside, against the allow-list.

Starts one worker with the course's sandbox (``autograder.yml``), grades a probe in it that walks
the worker's file system (``grader.sandbox.survey``) and prints the table: top-level entries,
what lies under the checkout and the home folders, the mounts, and every path beyond the
allow-list (none, with full isolation). ``--deny-list`` surveys a worker with the host's file
system and nothing hidden instead (the contrast: the comparison fails). Exit 1 on a violation.

Usage: python scripts/allow_list.py [--deny-list]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from grader import config, pipeline
from grader.sandbox import survey
from grader.sandbox.process import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deny-list", action="store_true", help="the layer off: the contrast")
    args = parser.parse_args()
    course = config.load(ROOT / "autograder.yml")
    sandbox = pipeline.sandbox_for(course)
    if args.deny_list:
        sandbox = Sandbox(filesystem="deny-list", hide=())
    with tempfile.TemporaryDirectory(prefix="grader-allow-list-") as folder:
        result, expected = survey.run(sandbox, Path(folder), ROOT)
    print("isolation: " + ", ".join(result["isolation"]))
    print(survey.table(result, expected, ROOT))
    return 1 if survey.violations(result, expected) else 0


if __name__ == "__main__":
    sys.exit(main())

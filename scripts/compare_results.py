"""Compare two output folders of ``grader grade``, timings aside: the proof that a refactor kept
the grades (same results.json for every submission, same gradebook, same feedback.md).

    python scripts/compare_results.py BEFORE_DIR AFTER_DIR

Timings are the only parts allowed to differ: ``execution_time``, and the output of speed
checks (they report measured times; their score and outcome must still agree). feedback.md is
compared without the lines that report measured times. Exit 0 when everything else is identical,
1 with the first differences listed otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any


def results_without_timings(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("execution_time", None)
    for test in data.get("tests", []):
        if test.get("extra_data", {}).get("kind") == "speed":
            test.pop("output", None)
    return data


def feedback_without_timings(path: Path) -> list[str]:
    """feedback.md's lines but the ones that report a speed check's measured times."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if "(median of" not in line]


def differences(before: Path, after: Path) -> list[str]:
    found = []
    students_before = sorted(p.name for p in before.iterdir() if p.is_dir())
    students_after = sorted(p.name for p in after.iterdir() if p.is_dir())
    if students_before != students_after:
        found.append(f"students differ: {students_before} vs {students_after}")
    for student in sorted(set(students_before) & set(students_after)):
        a = results_without_timings(before / student / "results.json")
        b = results_without_timings(after / student / "results.json")
        if a != b:
            tests_a = {t["name"]: t for t in a.pop("tests")}
            tests_b = {t["name"]: t for t in b.pop("tests")}
            if a != b:
                found.append(f"{student}: results.json differs outside tests[]")
            for name in sorted(set(tests_a) | set(tests_b)):
                if tests_a.get(name) != tests_b.get(name):
                    found.append(f"{student}: {name}: {tests_a.get(name)} -> {tests_b.get(name)}")
        fa = feedback_without_timings(before / student / "feedback.md")
        fb = feedback_without_timings(after / student / "feedback.md")
        if fa != fb:
            found.append(f"{student}: feedback.md differs")
    rows_a = list(csv.reader((before / "gradebook.csv").open(encoding="utf-8")))
    rows_b = list(csv.reader((after / "gradebook.csv").open(encoding="utf-8")))
    if rows_a != rows_b:
        found.append("gradebook.csv differs")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    found = differences(args.before, args.after)
    for line in found[:40]:
        print(line)
    if found:
        print(f"{len(found)} difference(s)")
        return 1
    print(f"identical apart from timings: {args.before} and {args.after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

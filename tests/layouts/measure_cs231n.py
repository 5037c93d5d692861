"""Measurements for the CS231n layout on the fixture trees (not a test; run by hand):

    PYTHONPATH=$PWD python -m tests.layouts.measure_cs231n [--grade YEAR ...]

Prints, per fixture year (three-assignment trees), how many functions map per topic and what
the convention detection decided; with ``--grade``, the wall time of ``grader grade --layout
cs231n`` on that year's full tree, every topic of the course.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.layouts import cs231n
from tests.layouts import cs231n_trees as trees

ROOT = Path(__file__).resolve().parents[2]
YEARS = range(2017, 2025)


def decisions(year: int, scratch: Path) -> dict:
    tree = trees.write(scratch / f"t{year}", year)
    topics = tuple(cs231n.MAPPING)
    sub = cs231n.submission(tree, topics, scratch / "gen")
    conv = {k: v.get("graded_as", v["value"]) for k, v in sub.extra["conventions"].items()}
    return {
        "mapped": sub.extra["mapped_functions"],
        "of": {t: len(f) for t, f in cs231n.MAPPING.items()},
        "conventions": conv,
        "in_place_upstream": sub.extra.get("in_place_upstream", {}),
    }


def grade(year: int, scratch: Path) -> tuple[float, dict]:
    tree = trees.write(scratch / f"g{year}" / f"s{year}", year)
    out = scratch / f"out{year}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "grader", "grade", str(tree), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run([*cmd, "--layout", "cs231n"], cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    data = json.loads((out / f"s{year}" / "results.json").read_text())
    outcomes: dict[str, int] = {}
    for t in data["tests"]:
        outcomes[t["extra_data"]["outcome"]] = outcomes.get(t["extra_data"]["outcome"], 0) + 1
    return wall, {"score": data["score"], "max": data["max_score"], "outcomes": outcomes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grade", type=int, nargs="*", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for year in YEARS:
            found = decisions(year, scratch)
            print(year, json.dumps(found, sort_keys=True))
        for year in args.grade:
            wall, summary = grade(year, scratch)
            print(f"grade {year}: {wall:.1f} s wall", json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()

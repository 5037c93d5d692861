"""Where one submission's grading time goes: the whole course (or ``--topic``) for one
submission, profiled in one process (cProfile), attributed to phases.

Phases are cumulative times of the functions that own them (a phase nested in another is
subtracted from it), so the rows add up to the total: judge imports, config and registry,
worker start, round trips to the worker, reference computations, numeric gradients, speed
checks, report writing and validation, and the rest.

Usage: python scripts/profile_breakdown.py [SUBMISSION] [--topic T ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# phase -> (file suffix, function name) entries whose cumulative time is the phase's
PHASES: dict[str, list[tuple[str, str]]] = {
    "worker start": [("sandbox/process.py", "__init__"), ("sandbox/template.py", "fork_worker")],
    "round trips": [("sandbox/process.py", "request")],
    "numeric gradients": [("checks/gradient.py", "numeric_gradient")],
    "speed checks": [("checks/speed.py", "run")],
    "reports and validation": [("batch.py", "write_reports")],
    "config and registry": [("grader/config.py", "load")],
}


def _cumulative(stats: pstats.Stats, file_suffix: str, name: str) -> float:
    total = 0.0
    for (file, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if fn == name and file.endswith(file_suffix):
            total += ct
    return total


def _reference_time(stats: pstats.Stats) -> float:
    """Time in the reference solutions, called from judge code (not nested in themselves)."""
    total = 0.0
    for (file, _line, _fn), (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/solutions/" not in file:
            continue
        for (cfile, _cl, _cfn), (_c1, _c2, _c3, cct) in callers.items():
            if "/solutions/" not in cfile:
                total += cct
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "submission", nargs="?", type=Path, default=ROOT / "examples/submissions/alice"
    )
    parser.add_argument("--topic", action="append", default=[])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    profile = cProfile.Profile()
    profile.enable()
    import grader.batch  # noqa: F401  (judge imports, timed)
    from grader import config, pipeline
    from grader.layouts.select import discover

    imported = time.perf_counter()
    course = config.load(ROOT / "autograder.yml")
    topics = tuple(args.topic) or course.topics
    with tempfile.TemporaryDirectory() as out:
        # in this thread (a batch grades in pool threads, which cProfile does not see)
        (sub,) = discover([args.submission], topics, Path(out) / "scratch", "auto")
        sandbox = pipeline.sandbox_for(course, extra_hidden=(Path(out).resolve(),))
        grader.batch.grade_one(course, sub, topics, Path(out), sandbox, force=True)
    profile.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profile)
    rows = {"judge imports": imported - started}
    for phase, owners in PHASES.items():
        rows[phase] = sum(_cumulative(stats, f, n) for f, n in owners)
    rows["reference computations"] = _reference_time(stats)
    rows["torch import (judge)"] = _cumulative(stats, "torch/__init__.py", "<module>")
    # round trips include the worker's compute; the speed checks include their round trips
    rows["round trips (outside speed checks)"] = rows.pop("round trips")
    rows["total"] = total
    report = {"cores": os.cpu_count(), "topics": list(topics), "seconds": rows}
    for name, value in rows.items():
        print(f"{name:38s} {value:7.2f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())

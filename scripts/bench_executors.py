"""Compare the executors of ``grader grade`` on copies of one submission (scratch benchmark).

    python scripts/bench_executors.py --copies 20 --jobs 2 --runs 3 --topic losses
    python scripts/bench_executors.py --executors threads processes dask-local

Each round runs the real command once per executor (in turn, so that the machine's load
falls on all of them alike), each time into a fresh output folder (nothing skipped by the
journal); prints per executor the median wall time of the command, the seconds per
submission, and every run's time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--topic", action="append", dest="topics", help="default: all topics")
    parser.add_argument("--submission", type=Path, default=REPO / "examples/submissions/alice")
    parser.add_argument(
        "--executors", nargs="+", default=["threads", "processes", "dask-local"], metavar="KIND"
    )
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {kind: [] for kind in args.executors}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as scratch:
        batch = Path(scratch) / "batch"
        for i in range(args.copies):
            shutil.copytree(args.submission, batch / f"student{i:03d}")
        topics = [a for t in args.topics or [] for a in ("--topic", t)]
        for run in range(args.runs):
            for kind in args.executors:
                out = Path(scratch) / f"out-{kind}-{run}"
                cmd = [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out)]
                cmd += ["--jobs", str(args.jobs), "--executor", kind, *topics]
                started = time.perf_counter()
                subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
                times[kind].append(time.perf_counter() - started)
                print(f"run {run + 1} {kind}: {times[kind][-1]:.2f} s", flush=True)
    what = ", ".join(args.topics) if args.topics else "all topics"
    print(f"\n{args.copies} copies of {args.submission.name} ({what}), --jobs {args.jobs}:")
    for kind, runs in times.items():
        median = statistics.median(runs)
        each = ", ".join(f"{t:.2f}" for t in runs)
        per = median / args.copies
        print(f"  {kind:11s} median {median:6.2f} s, {per:.3f} s/submission  [{each}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

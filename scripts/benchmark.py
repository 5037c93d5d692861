"""Benchmark the grader on this machine; prints a table and writes JSON.

Measures (medians over --runs repetitions, whole processes timed from outside):
- grading the reference solutions for every topic: ``python -m grader grade <copy> --out ...``,
  with the peak resident memory of the whole process tree (judge plus workers), sampled from
  /proc every 5 ms;
- starting one worker (spawn, imports, isolation layers, hello), timed in-process;
- the full test suite (``python -m pytest -q``), unless --no-suite;
- the number of checks per topic.

Usage: python scripts/benchmark.py [--runs 5] [--suite-runs 5] [--no-suite] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root_pid: int) -> int:
    """Sum of RSS (bytes) of root_pid and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
    total, stack = 0, [root_pid]
    seen = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def timed_process(cmd: list[str], cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, peak tree RSS bytes, exit code) of one command; its output is shown only
    when it fails."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.005)
        wall = time.perf_counter() - started
        if proc.returncode:
            log.seek(0)
            sys.stderr.write(log.read()[-5000:].decode(errors="replace"))
    return wall, peak, proc.returncode


def grade_reference(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "reference"
        shutil.copytree(ROOT / "solutions", sub)
        times, peaks = [], []
        for i in range(runs):
            cmd = [sys.executable, "-m", "grader", "grade", str(sub), "--out", f"{tmp}/out{i}"]
            wall, peak, code = timed_process(cmd, ROOT)
            if code != 0:
                raise SystemExit(f"grading failed with exit code {code}")
            times.append(wall)
            peaks.append(peak)
        results = json.loads((Path(tmp) / "out0" / "reference" / "results.json").read_text())
    return {
        "median_s": statistics.median(times),
        "runs_s": times,
        "peak_tree_rss_mib": max(peaks) / 2**20,
        "score": results["score"],
        "max_score": results["max_score"],
    }


def worker_start(runs: int) -> dict:
    from grader.sandbox.process import Sandbox, WorkerProcess

    times, isolation = [], []
    for _ in range(runs):
        started = time.perf_counter()
        worker = WorkerProcess(ROOT / "solutions" / "losses.py", "losses", Sandbox())
        times.append(time.perf_counter() - started)
        isolation = worker.isolation
        worker.close()
    return {"median_s": statistics.median(times), "runs_s": times, "isolation": isolation}


def test_suite(runs: int) -> dict:
    times = []
    for _ in range(runs):
        wall, _, code = timed_process(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], ROOT
        )
        if code != 0:
            raise SystemExit(f"test suite failed with exit code {code}")
        times.append(wall)
    return {"median_s": statistics.median(times), "runs_s": times}


def checks_per_topic() -> dict:
    from grader import registry

    return {t.name: len(t.checks) for t in registry.topics()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--suite-runs", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "root": os.geteuid() == 0,
        },
        "checks_per_topic": checks_per_topic(),
        "worker_start": worker_start(args.runs),
        "grade_reference_all_topics": grade_reference(args.runs),
    }
    if not args.no_suite:
        report["test_suite"] = test_suite(args.suite_runs)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    g, w = report["grade_reference_all_topics"], report["worker_start"]
    print(
        f"\ngrade reference (all topics): median {g['median_s']:.3f} s, "
        f"peak tree RSS {g['peak_tree_rss_mib']:.0f} MiB, score {g['score']}/{g['max_score']}"
    )
    print(f"worker start-up: median {w['median_s'] * 1000:.0f} ms ({'+'.join(w['isolation'])})")
    if "test_suite" in report:
        print(f"test suite: median {report['test_suite']['median_s']:.1f} s")
    print("checks per topic:", report["checks_per_topic"])


if __name__ == "__main__":
    main()

"""Benchmark the grader on this machine: the speed and memory targets, as ratios and medians
of whole processes timed from outside, all in one run. Prints a table and writes JSON.

Sections (each a median of ``--runs`` repetitions; the machine's core count is reported):

- ``course``: the whole course for one submission (the reference solutions copied as a
  submission, every check, speed checks included), ``cold`` (the reference's answers computed:
  ``GRADER_EXPECTED_CACHE=off``) and ``warm`` (kept from an earlier run, as in a batch or a
  regrade); with the peak memory of the whole process tree;
- ``otter``: ``otter run`` on a two-case question whose autograder zip the benchmark builds
  with ``otter generate`` (only when otter-grader is installed), and the ratio course / otter;
- ``batch``: ``--batch`` copies of examples/submissions/alice graded with ``--jobs`` 1, 2 and up
  to the core count: seconds per submission, the speed-up over ``--jobs 1``, and the peak
  memory (PSS: forked workers share their template's pages) of the tree at ``--jobs 2``;
- ``check``: ``grader check TOPIC`` on a complete submission, for every topic, as a student
  runs it again: with the worker-template daemons an earlier check left (the default) and
  without them (``GRADER_DAEMON=off``), interleaved; the first check's time too;
- ``worker_start``: one worker started by forking the template vs a fresh interpreter, and
  forked with the deny-list file system instead of the allow-list root (the root's cost);
- ``dask``: the ``--batch`` class graded at ``--jobs 2`` by a Dask ``LocalCluster``
  (``--executor dask-local``) and by the command's default (judge processes), interleaved run
  by run: seconds per submission and the ratio dask / local.

The JSON (``--json``) is written again after each section, so a run cut short keeps the
sections it finished; each section's start and end are printed to stderr.

Targets (issue "Speed and scale"): course / otter <= 1.0; batch <= 1.0 s per submission at
--jobs 2 on 2 cores; check <= 0.5 s per topic (cuda_timing <= 1 s); peak tree memory <= 500 MiB
at --jobs 2. These are measured here, never asserted in tests.

Usage: python scripts/benchmark.py [--runs 5] [--batch 20] [--sections course,batch,...]
       [--json out.json]
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
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.05  # seconds between two samples of a process tree's memory, at least
SAMPLER_SHARE = 0.05  # of one core, at most, for the sampling
SECTIONS = ("worker_start", "course", "otter", "check", "batch", "dask")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _tree(root_pid: int) -> list[int]:
    """``root_pid`` and its descendants, from the ``children`` files of the tree alone (not a
    scan of all of /proc)."""
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(_children(pid))
    return found


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split among their sharers)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def timed_process(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, int, int]:
    """(wall seconds, peak tree PSS bytes, exit code) of one command; its output is shown only
    when it fails. The tree's memory is sampled at most every ``SAMPLE_S`` and never more than
    ``SAMPLER_SHARE`` of one core's time (reading every process's smaps takes milliseconds: at
    every 10 ms it took half a core of the two the grading runs on)."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        peak = [0]
        done = threading.Event()

        def sample() -> None:  # beside the wait: the wall time is not rounded to a sample's
            while not done.is_set():
                sampled = time.perf_counter()
                peak[0] = max(peak[0], sum(_pss(p) for p in _tree(proc.pid)))
                cost = time.perf_counter() - sampled
                done.wait(max(SAMPLE_S, cost * (1 - SAMPLER_SHARE) / SAMPLER_SHARE))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        if proc.returncode not in (0, 1):  # 1: some check failed, a normal outcome
            log.seek(0)
            sys.stderr.write(log.read()[-5000:].decode(errors="replace"))
    return wall, peak[0], proc.returncode


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _grade(
    sub: Path, out: Path, jobs: int = 1, env: dict | None = None, executor: str | None = None
) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "grader", "grade", str(sub), "--out", str(out), "--force"]
    cmd += ["--jobs", str(jobs), *(("--executor", executor) if executor else ())]
    wall, peak, code = timed_process(cmd, ROOT, env)
    if code not in (0, 1):
        raise SystemExit(f"grading failed with exit code {code}")
    return wall, peak


def course(runs: int, tmp: Path) -> dict:
    """One submission, the whole course: ``--jobs 1``, and ``--jobs`` the core count (a
    submission alone is then graded topic by topic in that many judge processes), the two
    interleaved run by run."""
    sub = tmp / "course" / "reference"
    shutil.copytree(ROOT / "solutions", sub)
    cache = tmp / "expected-cache"
    variants = sorted({1, os.cpu_count() or 1})
    cold: dict[int, list] = {jobs: [] for jobs in variants}
    warm: dict[int, list] = {jobs: [] for jobs in variants}
    for i in range(runs):
        for jobs in variants:
            env = {"GRADER_EXPECTED_CACHE": "off"}
            cold[jobs].append(_grade(sub.parent, tmp / f"cold{jobs}-{i}", jobs, env))
    _grade(sub.parent, tmp / "prime", env={"GRADER_EXPECTED_CACHE": str(cache)})
    for i in range(runs):
        for jobs in variants:
            env = {"GRADER_EXPECTED_CACHE": str(cache)}
            warm[jobs].append(_grade(sub.parent, tmp / f"warm{jobs}-{i}", jobs, env))
    results = json.loads((tmp / "warm1-0" / "reference" / "results.json").read_text())
    by_jobs = {
        str(jobs): {
            "cold_median_s": _median([w for w, _ in cold[jobs]]),
            "warm_median_s": _median([w for w, _ in warm[jobs]]),
            "cold_runs_s": [w for w, _ in cold[jobs]],
            "warm_runs_s": [w for w, _ in warm[jobs]],
            "peak_tree_pss_mib": max(p for _, p in cold[jobs] + warm[jobs]) / 2**20,
        }
        for jobs in variants
    }
    return {
        **by_jobs["1"],
        "by_jobs": by_jobs,
        "score": results["score"],
        "max_score": results["max_score"],
    }


OTTER_TESTS = {
    "q1.py": """
        OK_FORMAT = True
        test = {
            "name": "q1",
            "points": 2,
            "suites": [
                {
                    "cases": [
                        {"code": ">>> square(3) == 9\\nTrue", "hidden": False, "locked": False},
                        {"code": ">>> square(-2) == 4\\nTrue", "hidden": False, "locked": False},
                    ],
                    "scored": True,
                    "setup": "",
                    "teardown": "",
                    "type": "doctest",
                }
            ],
        }
    """
}
OTTER_SUBMISSION = """
import otter
grader = otter.Notebook()

def square(x):
    return x * x

grader.check("q1")
"""


def otter(runs: int, tmp: Path) -> dict | None:
    """``otter run`` of a two-case question (``otter generate`` builds its autograder zip)."""
    otter_bin = shutil.which("otter")
    if otter_bin is None:
        return None
    question = tmp / "otter"
    (question / "tests").mkdir(parents=True)
    for name, text in OTTER_TESTS.items():
        (question / "tests" / name).write_text(textwrap.dedent(text))
    subprocess.run([otter_bin, "generate"], cwd=question, check=True, capture_output=True)
    submission = question / "submission.py"
    submission.write_text(OTTER_SUBMISSION)
    times = []
    for i in range(runs):
        out = question / f"out{i}"
        out.mkdir()
        cmd = [otter_bin, "run", "-a", "autograder.zip", "-o", str(out), str(submission)]
        wall, _, code = timed_process(cmd, question)
        if code != 0:
            return {"error": f"otter run failed with exit code {code}"}
        times.append(wall)
    return {"median_s": _median(times), "runs_s": times}


def check(runs: int) -> dict:
    """``grader check TOPIC`` per topic, as a student runs it again and again: with the worker
    template daemons the first check left (``daemon``, the default) and without
    (``GRADER_DAEMON=off``, every check starting its own), interleaved."""
    from grader import registry
    from grader.sandbox import daemon

    alice = ROOT / "examples" / "submissions" / "alice"
    runtime = Path(tempfile.mkdtemp(prefix="gb-", dir="/tmp"))  # short: a socket's path
    kinds = {
        "daemon": {daemon.ENV: "on", "XDG_RUNTIME_DIR": str(runtime)},
        "no_daemon": {daemon.ENV: "off"},
    }
    found: dict = {}
    try:
        for topic in registry.available():
            cmd = [sys.executable, "-m", "grader", "check", topic, "--submission", str(alice), "-q"]
            first, _, _ = timed_process(cmd, ROOT, kinds["daemon"])  # starts the daemons
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(runs):
                for kind, env in kinds.items():
                    wall, _, code = timed_process(cmd, ROOT, env)
                    if code != 0:
                        found[topic] = {"error": f"exit code {code} ({kind})"}
                        break
                    times[kind].append(wall)
            if topic not in found:
                found[topic] = {
                    "median_s": _median(times["daemon"]),
                    "no_daemon_median_s": _median(times["no_daemon"]),
                    "first_run_s": first,
                    "runs_s": times,
                }
    finally:
        for sock in runtime.glob("grader-*/*.sock"):
            channel = daemon.channel_if_running(sock)
            if channel is not None:
                os.kill(channel.pid, 9)
                channel.kill()
        shutil.rmtree(runtime, ignore_errors=True)
    return found


def _class(copies: int, tmp: Path) -> Path:
    """``copies`` copies of examples/submissions/alice (made once, shared by the sections)."""
    folder = tmp / "class"
    if not folder.is_dir():
        for i in range(copies):
            alice = ROOT / "examples" / "submissions" / "alice"
            shutil.copytree(alice, folder / f"student{i:03d}")
    return folder


def batch(runs: int, copies: int, tmp: Path) -> dict:
    folder = _class(copies, tmp)
    cores = os.cpu_count() or 1
    found = {}
    for jobs in sorted({1, 2, cores}):
        samples = [_grade(folder, tmp / f"batch{jobs}-{i}", jobs) for i in range(runs)]
        wall = _median([w for w, _ in samples])
        found[str(jobs)] = {
            "median_s": wall,
            "per_submission_s": wall / copies,
            "runs_s": [w for w, _ in samples],
            "peak_tree_pss_mib": max(p for _, p in samples) / 2**20,
        }
    one = found["1"]["median_s"]
    for row in found.values():
        row["speedup_over_jobs_1"] = one / row["median_s"]
    return {"submissions": copies, "by_jobs": found}


def dask(runs: int, copies: int, tmp: Path) -> dict:
    """The class at ``--jobs 2``: a Dask LocalCluster (``--executor dask-local``) against the
    command's own default there (no ``--executor``: judge processes), interleaved run by run."""
    folder = _class(copies, tmp)
    kinds = {"dask-local": "dask-local", "local": None}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    peaks: dict[str, list[int]] = {kind: [] for kind in kinds}
    for i in range(runs):
        for kind, executor in kinds.items():
            wall, peak = _grade(folder, tmp / f"dask-{kind}-{i}", 2, executor=executor)
            times[kind].append(wall)
            peaks[kind].append(peak)
    found: dict = {
        kind: {
            "median_s": _median(times[kind]),
            "per_submission_s": _median(times[kind]) / copies,
            "runs_s": times[kind],
            "peak_tree_pss_mib": max(peaks[kind]) / 2**20,
        }
        for kind in kinds
    }
    found["local"]["executor"] = "the command's default at --jobs 2 (judge processes)"
    found["dask_over_local"] = found["dask-local"]["median_s"] / found["local"]["median_s"]
    return {"submissions": copies, "jobs": 2, **found}


def worker_start(runs: int) -> dict:
    from grader.sandbox.process import Sandbox, WorkerProcess

    # "fork_deny_list": the worker's file system the host's with the course hidden, as before
    # the allow-list root; the variants interleaved, so that the machine's load hits them alike
    variants = {
        "spawn": Sandbox(start="spawn"),
        "fork": Sandbox(start="fork"),
        "fork_deny_list": Sandbox(start="fork", filesystem="deny-list"),
    }
    module = ROOT / "solutions" / "losses.py"
    times: dict[str, list[float]] = {name: [] for name in variants}
    for sandbox in variants.values():
        WorkerProcess(module, "losses", sandbox).close()
    for _ in range(runs):
        for name, sandbox in variants.items():
            started = time.perf_counter()
            worker = WorkerProcess(module, "losses", sandbox)
            times[name].append(time.perf_counter() - started)
            worker.close()
    found: dict = {name: {"median_s": _median(t), "runs_s": t} for name, t in times.items()}
    found["fork_over_spawn"] = found["fork"]["median_s"] / found["spawn"]["median_s"]
    found["allow_list_cost_s"] = found["fork"]["median_s"] - found["fork_deny_list"]["median_s"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20, help="submissions in the batch")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = args.sections.split(",")
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    report: dict = {
        "machine": {
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "root": os.geteuid() == 0,
            "load_average_at_start": os.getloadavg(),
        },
        "runs": args.runs,
    }

    def save() -> None:
        report["machine"]["load_average_now"] = os.getloadavg()
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        sections = {
            "worker_start": lambda: worker_start(args.runs),
            "course": lambda: course(args.runs, Path(tmp)),
            "otter": lambda: otter(args.runs, Path(tmp)),
            "check": lambda: check(args.runs),
            "batch": lambda: batch(args.runs, args.batch, Path(tmp)),
            "dask": lambda: dask(args.runs, args.batch, Path(tmp)),
        }
        for name in SECTIONS:
            if name not in wanted:
                continue
            started = time.perf_counter()
            print(f"[benchmark] {name} ...", file=sys.stderr, flush=True)
            report[name] = sections[name]()
            report.setdefault("section_seconds", {})[name] = time.perf_counter() - started
            if name == "otter":
                _otter_ratios(report)
            save()
            print(
                f"[benchmark] {name} done in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    report["machine"]["load_average_at_end"] = os.getloadavg()
    save()
    print(json.dumps(report, indent=2))


def _otter_ratios(report: dict) -> None:
    """course / otter, cold and warm, for each ``--jobs`` of the course section."""
    found = report.get("otter")
    if not found or "course" not in report or "median_s" not in found:
        return
    for jobs, row in report["course"]["by_jobs"].items():
        for side in ("cold", "warm"):
            ratio = row[f"{side}_median_s"] / found["median_s"]
            found[f"course_{side}_jobs{jobs}_over_otter"] = ratio
            if jobs == "1":
                found[f"course_{side}_over_otter"] = ratio


if __name__ == "__main__":
    main()

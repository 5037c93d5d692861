"""Batches never lose work: the journal makes reruns resume, skip, regrade what changed and merge
``--topic`` runs; a SIGKILL at any moment plus a rerun gives the files of an uninterrupted run;
SIGINT/SIGTERM stop at once, cleanly, with nothing left running."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch import SCRATCH, grade_batch

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions"
TOPICS = ("losses", "dropout")
_spec = importlib.util.spec_from_file_location(
    "compare_results", REPO / "scripts/compare_results.py"
)
compare_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_results)


def _class(folder: Path, students: tuple[str, ...] = ("alice", "bob", "dave", "raises")) -> Path:
    for name in students:
        shutil.copytree(EXAMPLES / name, folder / name)
    return folder


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _tests(out: Path, student: str) -> dict[str, dict]:
    data = json.loads((out / student / "results.json").read_text())
    return {t["name"]: t for t in data["tests"]}


def test_a_rerun_skips_what_is_graded_and_regrades_what_changed(course, tmp_path):
    batch, out = _class(tmp_path / "batch", ("alice", "bob")), tmp_path / "out"
    grade_batch(course, [batch], out, TOPICS)
    before = _files(out)
    grade_batch(course, [batch], out, TOPICS)
    assert _files(out) == before  # nothing regraded: not a byte rewritten (timings included)
    (out / "alice" / "feedback.md").unlink()
    grade_batch(course, [batch], out, TOPICS)
    assert _files(out) == before  # a report deleted by hand comes back from the journal

    old = _tests(out, "bob")
    (batch / "bob" / "dropout.py").write_text((EXAMPLES / "dave" / "dropout.py").read_text())
    grade_batch(course, [batch], out, TOPICS)
    new = _tests(out, "bob")
    assert _files(out)["alice/results.json"] == before["alice/results.json"]
    losses = [n for n in old if n.startswith("losses/")]
    assert losses and all(new[n] == old[n] for n in losses)  # losses kept as graded
    dropout = [n for n in new if n.startswith("dropout/")]
    assert any(new[n]["status"] == "failed" for n in dropout)  # dave's dropout mistakes now
    assert all(old[n]["extra_data"]["outcome"] == "not_submitted" for n in dropout)


def test_the_gradebook_maps_each_id_to_its_source_and_follows_a_move(course, tmp_path):
    batch, out = _class(tmp_path / "batch", ("alice", "bob")), tmp_path / "out"
    grade_batch(course, [batch], out, ("dropout",))
    sources = {r["student_id"]: r["source"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert sources == {"alice": str(batch / "alice"), "bob": str(batch / "bob")}
    results = (out / "alice" / "results.json").read_bytes()
    moved = batch.rename(tmp_path / "moved")
    grade_batch(course, [moved], out, ("dropout",))
    assert (out / "alice" / "results.json").read_bytes() == results  # same bytes: not regraded
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["source"] for r in rows] == [str(moved / "alice"), str(moved / "bob")]


def test_force_regrades_and_keeps_the_other_topics(course, tmp_path):
    batch, out = _class(tmp_path / "batch", ("alice",)), tmp_path / "out"
    grade_batch(course, [batch], out, TOPICS)
    journal = out / "alice" / "journal.json"
    first = journal.stat().st_mtime_ns
    grade_batch(course, [batch], out, ("dropout",), force=True)
    assert journal.stat().st_mtime_ns > first
    data = json.loads((out / "alice" / "results.json").read_text())
    assert set(data["extra_data"]["topics"]) == set(TOPICS)


def test_topic_runs_merge_and_the_gradebook_holds_every_student(course, tmp_path):
    out = tmp_path / "out"
    grade_batch(course, [EXAMPLES / "alice"], out, ("losses",))
    grade_batch(course, [EXAMPLES / "alice"], out, ("dropout",))
    grade_batch(course, [EXAMPLES / "bob"], out, ("losses",))
    data = json.loads((out / "alice" / "results.json").read_text())
    assert set(data["extra_data"]["topics"]) == {"losses", "dropout"}
    assert (
        data["score"]
        == data["max_score"]
        == sum(p.points for t in ("losses", "dropout") for p in course.plans[t])
    )
    feedback = (out / "alice" / "feedback.md").read_text()
    assert "## losses" in feedback and "## dropout" in feedback
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["student_id"] for r in rows] == ["alice", "bob"]
    assert list(rows[0])[3:5] == ["losses", "dropout"]  # course order
    assert float(rows[0]["dropout"]) > 0 and rows[1]["dropout"] == "0"


# -- the real command: SIGKILL, SIGINT and SIGTERM ------------------------------------------------
def _command(
    batch: Path, out: Path, config: Path | None = None, executor: str | None = None
) -> list[str]:
    cmd = [sys.executable, "-m", "grader", *(["--config", str(config)] if config else [])]
    cmd += ["grade", str(batch), "--out", str(out), "--jobs", "2"]
    cmd += ["--executor", executor] if executor else []
    return cmd + [arg for t in TOPICS for arg in ("--topic", t)]


# every executor: threads of the judge, judge processes of its own, a local Dask cluster. CI
# runs every moment, every executor and, for threads and processes, both signals and both
# isolations; the rest of the grid is slow (--runslow runs all of it).
def _grid(cases: list[tuple], in_ci: set[tuple]) -> list:
    return [c if c in in_ci else pytest.param(*c, marks=pytest.mark.slow) for c in cases]


KILL_CASES = _grid(
    [
        *((point, ex) for ex in ("threads", "processes") for point in ("at start-up", "0 done")),
        *((point, ex) for ex in ("threads", "processes") for point in ("1 done", "3 done")),
        ("1 done", "dask-local"),
    ],
    {
        ("at start-up", "processes"),
        ("0 done", "threads"),
        ("1 done", "processes"),
        ("3 done", "threads"),
        ("1 done", "dask-local"),
    },
)
INTERRUPT_CASES = _grid(
    [
        *(
            (isolation, sig, ex)
            for ex in ("threads", "processes")
            for isolation in ("auto", "process")
            for sig in (signal.SIGINT, signal.SIGTERM)
        ),
        ("auto", signal.SIGTERM, "dask-local"),
    ],
    {
        ("auto", signal.SIGINT, "threads"),
        ("process", signal.SIGTERM, "threads"),
        ("auto", signal.SIGTERM, "processes"),
        ("process", signal.SIGINT, "processes"),
        ("auto", signal.SIGTERM, "dask-local"),
    },
)


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line mentions ``text`` (every worker's names its module)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _workers(out: Path, student: str = "") -> list[int]:
    """The workers of a run into ``out`` (grading ``student``): they import the judge's copy of
    the module, in the run's scratch folder, and their command line names it."""
    scratch = str(out / SCRATCH)
    found = _processes_mentioning(scratch)
    return [p for p in found if f"/{student}-".encode() in _cmdline(p)] if student else found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _no_process_left(marker: str) -> list[int]:
    deadline = time.monotonic() + 3.0
    while (left := _processes_mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kill")
    batch = _class(root / "batch")
    subprocess.run(_command(batch, root / "reference"), cwd=REPO, check=True, capture_output=True)
    return batch, root / "reference"


@pytest.mark.parametrize("point, executor", KILL_CASES)
def test_sigkill_at_any_moment_then_a_rerun_gives_the_uninterrupted_files(
    uninterrupted, tmp_path, point, executor
):
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    batch, reference = uninterrupted
    out = tmp_path / "out"
    judge = subprocess.Popen(
        _command(batch, out, executor=executor), cwd=REPO, stdout=subprocess.DEVNULL
    )
    if point == "at start-up":
        time.sleep(0.3)
    else:
        done = int(point.split()[0])
        _wait_until(lambda: len(list(out.glob("*/journal.json"))) >= done)
        if done == 0:
            _wait_until(lambda: _workers(out))  # a worker is grading
    judge.kill()
    judge.wait()
    assert _no_process_left(str(out)) == [], "a worker outlived the killed judge"
    subprocess.run(_command(batch, out), cwd=REPO, check=True, capture_output=True)
    assert compare_results.differences(reference, out) == []
    assert sorted(_files(out)) == sorted(_files(reference))  # no leftover of the killed run


SPINNER = '''"""Imports fine, then one function never returns; a detached child spins forever."""
import os
import numpy as np


def dropout_forward(x, dropout_param):
    if os.fork() == 0:
        os.setsid()  # out of the worker's process group
        while True:
            pass
    while True:
        pass


def dropout_backward(dout, cache):
    return dout
'''


@pytest.mark.parametrize("isolation, sig, executor", INTERRUPT_CASES)
def test_an_interrupt_stops_at_once_cleanly_and_leaves_nothing_running(
    tmp_path, isolation, sig, executor
):
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    batch = _class(tmp_path / "batch", ("alice", "bob"))
    (batch / "zed").mkdir()
    (batch / "zed" / "dropout.py").write_text(SPINNER)
    config = tmp_path / "autograder.yml"
    text = (
        (REPO / "autograder.yml").read_text().replace("isolation: auto", f"isolation: {isolation}")
    )
    config.write_text(text.replace("solutions: solutions", f"solutions: {REPO / 'solutions'}"))
    out = tmp_path / "out"
    judge = subprocess.Popen(
        _command(batch, out, config, executor),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_until(lambda: len(_workers(out, "zed")) >= 2)  # spinning
    started = time.monotonic()
    judge.send_signal(sig)
    stdout, stderr = judge.communicate(timeout=30)
    took = time.monotonic() - started
    text = stdout.decode() + stderr.decode()
    assert judge.returncode == 130, text
    assert took < 5.0, f"the interrupt took {took:.1f} s"
    assert "Traceback" not in text
    assert "rerun the same command to resume" in text and "interrupted: " in text
    assert (out / "gradebook.csv").is_file()
    assert _no_process_left(str(out)) == []
    assert not (out / SCRATCH).exists()


def test_a_grader_failure_is_in_the_gradebook_and_regraded_by_the_next_run(
    course, tmp_path, monkeypatch
):
    import grader.batch

    batch, out = _class(tmp_path / "batch", ("alice", "bob")), tmp_path / "out"
    real = grader.batch.grade_submission

    def broken_for_bob(course, sub, topics, **kw):
        if sub.student_id == "bob":
            raise KeyError("boom")
        return real(course, sub, topics, **kw)

    monkeypatch.setattr(grader.batch, "grade_submission", broken_for_bob)
    grade_batch(course, [batch], out, ("dropout",))
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["bob"]["status"] == "grader_error" and rows["alice"]["status"] == "graded"
    monkeypatch.setattr(grader.batch, "grade_submission", real)
    grade_batch(course, [batch], out, ("dropout",))
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["bob"]["status"] == "graded"

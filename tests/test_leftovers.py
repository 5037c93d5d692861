"""Nothing left behind: after any run, killed or not, no file of the run outside the output
folder, no scratch folder, no process; and what a student writes to /tmp, /run/lock, /dev/shm or
/var/tmp is private to that worker (the next student cannot read it, the host never sees it).

Runs are real ``grader grade`` commands with a private ``TMPDIR`` (anything the run leaves
there is a leftover); the student code writes files named with a marker, looked for on the host.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader import scratch
from grader.batch import SCRATCH

REPO = Path(__file__).resolve().parents[1]
ALICE = REPO / "examples" / "submissions" / "alice" / "dropout.py"
SHARED = ("/tmp", "/run/lock", "/dev/shm", "/var/tmp")  # writable by every user on the host

WRITER = """
import os
for folder in {shared!r}:
    try:
        with open(os.path.join(folder, "{marker}-" + str(os.getpid())), "w") as fh:
            fh.write("left by a student")
    except OSError:
        pass


def dropout_forward(x, dropout_param):
    {body}


def dropout_backward(dout, cache):
    return dout
"""
SPIN = """if os.fork() == 0:
        os.setsid()  # out of the worker's process group
        while True:
            pass
    while True:
        pass"""
READER = """
import os
seen = [os.path.join(f, n) for f in {shared!r} if os.path.isdir(f) for n in os.listdir(f)
        if n.startswith("{marker}")]
if seen:
    raise RuntimeError("saw another student's files: " + ", ".join(seen))


def dropout_forward(x, dropout_param):
    raise NotImplementedError


def dropout_backward(dout, cache):
    raise NotImplementedError
"""


def _module(template: str, marker: str, body: str = "return x, None") -> str:
    return template.format(shared=SHARED, marker=marker, body=body)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _wait_for(condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return found


def _marked(marker: str) -> list[str]:
    return [
        os.path.join(f, n)
        for f in SHARED
        if os.path.isdir(f)
        for n in os.listdir(f)
        if n.startswith(marker)
    ]


def _running(pid: int) -> bool:
    """Is ``pid`` a live process? A zombie is not: it has ended, and waits only to be reaped
    by its parent (in a full test run that can be pytest itself, made a subreaper by an earlier
    test, which never reaps the orphans it adopts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def test_the_scratch_of_a_dead_run_goes_and_a_live_ones_stays(tmp_path):
    base = tmp_path / "scratch"
    base.mkdir()
    dead = base / "123-dead"
    (dead / "alice-x").mkdir(parents=True)
    (base / "123-dead.lock").write_text("")  # nobody holds it: its run was killed
    (base / "old-grader-leftover").mkdir()  # no lock at all: an older grader's scratch
    live = base / "456-live"
    live.mkdir()
    fd = os.open(base / "456-live.lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a run that is still grading
    try:
        with scratch.run_folder(base) as mine:
            assert mine.is_dir() and live.is_dir()
            assert not dead.exists() and not (base / "old-grader-leftover").exists()
        assert not mine.exists() and live.is_dir()
    finally:
        os.close(fd)
    assert scratch.tidy(base) == 1 and not live.exists()


def test_a_run_starting_between_anothers_lock_file_and_its_lock_removes_nothing_in_use(
    tmp_path, monkeypatch
):
    """Another run tidies the base right after this run's lock file is made and before it is
    locked (a free lock: a dead run's, as far as it can tell). This run's scratch must still be
    locked and there while it lives, whatever later runs tidy."""
    base = tmp_path / "scratch"
    real, raced = scratch.tempfile.mkstemp, []

    def mkstemp(*args, **kwargs):
        made = real(*args, **kwargs)
        if not raced:
            raced.append(made[1])
            assert scratch.tidy(base) == 1  # it took the unlocked file for a dead run's lock
        return made

    monkeypatch.setattr(scratch.tempfile, "mkstemp", mkstemp)
    with scratch.run_folder(base) as mine:
        assert raced and not Path(raced[0]).exists()
        lock = Path(f"{mine}{scratch.LOCK}")
        assert scratch.tidy(base) == 0  # a run starting now
        assert mine.is_dir() and lock.is_file()
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # held: this run's own lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert not base.exists()


def _run(batch: Path, out: Path, tmp: Path, jobs: int = 2) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out)]
    cmd += ["--topic", "dropout", "--jobs", str(jobs)]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _workers(out: Path) -> list[int]:
    return _processes_mentioning(str(out / SCRATCH))


def test_killed_runs_then_a_full_run_leave_nothing(tmp_path):
    """SIGKILL during grading, then SIGTERM during a second run, then a run to the end:
    no worker outlives its judge, the killed run's scratch goes at the next run, the private
    TMPDIR stays empty, and no student file is left in the host's shared folders."""
    marker = f"grader-leftover-{uuid.uuid4().hex[:12]}"
    batch, out, tmp = tmp_path / "batch", tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    for name, text in {
        "a_writer": _module(WRITER, marker),
        "b_reader": _module(READER, marker),
        "c_spinner": _module(WRITER, marker, SPIN),
        "d_alice": ALICE.read_text(),
    }.items():
        (batch / name).mkdir(parents=True)
        (batch / name / "dropout.py").write_text(text)

    for sig in (signal.SIGKILL, signal.SIGTERM):
        judge = _run(batch, out, tmp)
        spinning = _wait_for(lambda: _processes_mentioning("c_spinner-"))
        judge.send_signal(sig)
        judge.communicate(timeout=60)
        assert _gone(spinning + _workers(out)) == [], f"a worker outlived the judge ({sig!r})"
        left = list((out / SCRATCH).glob("*")) if (out / SCRATCH).exists() else []
        if sig == signal.SIGKILL:
            assert left, "the killed run's scratch should be there until the next run"
        else:
            assert left == [], left  # SIGTERM: its own scratch, and the killed run's, are gone

    (batch / "c_spinner" / "dropout.py").write_text(_module(WRITER, marker))
    judge = _run(batch, out, tmp, jobs=1)  # in name order: the writer before the reader
    _, stderr = judge.communicate(timeout=300)
    assert judge.returncode == 0, stderr.decode()
    assert not (out / SCRATCH).exists()
    assert list(tmp.iterdir()) == []  # nothing of the runs in the temporary directory
    assert _workers(out) == []
    reader = json.loads((out / "b_reader" / "results.json").read_text())
    if "private tmpfs" not in reader["extra_data"]["isolation_level"]:
        pytest.skip("no private tmpfs on this machine (needs root and namespaces)")
    assert _marked(marker) == []  # the host never saw a student's file
    outputs = " ".join(t["output"] for t in reader["tests"])
    assert "saw another student's files" not in outputs
    assert "NotImplementedError" in outputs  # its module was imported, and saw nothing
    alice = json.loads((out / "d_alice" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0

"""Slow session fixtures started at collection, in detached processes, beside the tests that
come first: the release's build and the notebooks' runs take minutes, and a test that waits for
them from the start would wait that long.

``start(name, script, *args)`` runs ``python script OUT *args`` in a new session whose parent
exits at once, so nothing a test does to the test run's processes (a subreaper's orphan sweep, a
process group killed) reaches it. The script writes ``OUT/result.pickle`` or ``OUT/failed``
(``finish``); ``wait(name)`` returns the result or fails the test with the traceback or the
output; ``stop_all()`` kills what an interrupted session left running and removes the folders.

Under pytest-xdist every worker collects the same tests and calls ``start``: the jobs live in
one folder of the session, made by the controller and handed to the workers (``configure``), so
the first worker to claim a job starts it and the others wait for the same result; the
controller removes the folder when every worker is done.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 900
CLAIM_S = 60  # how long a job claimed by another worker may go without its pid
WORKER_KEY = "grader_early"  # the session's folder, in an xdist worker's workerinput
_folder: Path | None = None  # this session's jobs: OUT = _folder / name
_owner = False  # made here (the controller, or a run without workers): removed here
_started: dict[str, Path] = {}


def configure(config: pytest.Config) -> None:
    """The session's folder: the controller's, in an xdist worker; else one made here when
    first needed (``folder``), and owned."""
    global _folder, _owner
    given = getattr(config, "workerinput", {}).get(WORKER_KEY)
    _folder, _owner = (Path(given), False) if given else (None, True)


def folder() -> Path:
    global _folder
    if _folder is None:
        assert _owner, "tests.early.configure was not called"
        _folder = Path(tempfile.mkdtemp(prefix="grader-test-early-"))
    return _folder


def start(name: str, script: Path, *args: str) -> None:
    out = folder() / name
    _started[name] = out
    try:
        out.mkdir()
    except FileExistsError:  # another xdist worker claimed it first: wait() waits for its result
        return
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    subprocess.run(
        [
            "sh",
            "-c",
            'setsid "$@" > "$0/log" 2>&1 < /dev/null & echo $! > "$0/pid.part"'
            ' && mv "$0/pid.part" "$0/pid"',
            str(out),
        ]
        + [sys.executable, str(script), str(out), *args],
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )


def started(name: str) -> bool:
    return name in _started


def _alive(out: Path) -> bool:
    try:
        pid = int((out / "pid").read_text())
    except FileNotFoundError:  # claimed, not started yet (another worker is starting it)
        return time.time() - out.stat().st_mtime < CLAIM_S
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def wait(name: str) -> Any:
    out = _started[name]
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        alive = _alive(out)  # before looking for a result: one written before it exited is seen
        if (out / "result.pickle").exists():
            return pickle.loads((out / "result.pickle").read_bytes())
        if (out / "failed").exists():
            pytest.fail(f"{name} failed:\n" + (out / "failed").read_text())
        if not alive:
            log = out / "log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(not started)"
            pytest.fail(f"{name} died without a result; its output:\n{tail}")
        if time.monotonic() > deadline:
            pytest.fail(f"{name} took more than {TIMEOUT_S} s")
        time.sleep(0.2)


def stop_all() -> None:
    """Where the folder was made: kill what is still running (an interrupted session; each job
    is its own process group) and remove it. An xdist worker leaves it to the controller."""
    global _folder
    _started.clear()
    if not _owner or _folder is None:
        return
    for out in _folder.iterdir():
        if not (out / "result.pickle").exists() and not (out / "failed").exists():
            try:
                os.killpg(int((out / "pid").read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    shutil.rmtree(_folder, ignore_errors=True)
    _folder = None


def finish(out: Path, job: Callable[[], Any]) -> None:
    """In the started script: ``job()``'s result, or its traceback, written whole or not at all."""
    try:
        result, name = pickle.dumps(job()), "result.pickle"
    except BaseException:
        result, name = traceback.format_exc().encode(), "failed"
    (out / f"{name}.part").write_bytes(result)
    os.replace(out / f"{name}.part", out / name)

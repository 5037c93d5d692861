"""Slow session fixtures started at collection, in detached processes, beside the tests that
come first: grading keeps about one of two cores busy (the judge and its worker take turns).

``start(name, script, *args)`` runs ``python script OUT *args`` in a new session whose parent
exits at once, so nothing a test does to the test run's processes (a subreaper's orphan sweep, a
process group killed) reaches it. The script writes ``OUT/result.pickle`` or ``OUT/failed``
(``finish``); ``wait(name)`` returns the result or fails the test with the traceback or the
output; ``stop_all()`` kills what an interrupted session left running and removes the folders.
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
_started: dict[str, Path] = {}


def start(name: str, script: Path, *args: str) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"grader-test-{name}-"))
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    subprocess.run(
        ["sh", "-c", 'setsid "$@" > "$0/log" 2>&1 < /dev/null & echo $! > "$0/pid"', str(out)]
        + [sys.executable, str(script), str(out), *args],
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    _started[name] = out


def started(name: str) -> bool:
    return name in _started


def _alive(out: Path) -> bool:
    try:
        os.kill(int((out / "pid").read_text()), 0)
    except (OSError, ValueError):
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
            log = (out / "log").read_text(errors="replace")[-3000:]
            pytest.fail(f"{name} died without a result; its output:\n{log}")
        if time.monotonic() > deadline:
            pytest.fail(f"{name} took more than {TIMEOUT_S} s")
        time.sleep(0.2)


def stop_all() -> None:
    for out in _started.values():
        if not (out / "result.pickle").exists() and not (out / "failed").exists():
            try:  # an interrupted session: the job (its own process group) goes too
                os.killpg(int((out / "pid").read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(out, ignore_errors=True)
    _started.clear()


def finish(out: Path, job: Callable[[], Any]) -> None:
    """In the started script: ``job()``'s result, or its traceback, written whole or not at all."""
    try:
        result, name = pickle.dumps(job()), "result.pickle"
    except BaseException:
        result, name = traceback.format_exc().encode(), "failed"
    (out / f"{name}.part").write_bytes(result)
    os.replace(out / f"{name}.part", out / name)

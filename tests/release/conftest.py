"""One release of a few topics per test session (``grader release --topic``): a full build takes
minutes on a loaded machine; ``test_full_release`` (slow) builds every topic.

The build starts as soon as the session's tests are collected, in a process of its own
(``build_kit.py``), and runs beside the tests before the release's: grading leaves one of two
cores mostly idle (the judge and its worker take turns), and the build is most of a minute.
It is started detached (a new session, its parent gone at once), so nothing a test does to the
processes of the test run (a subreaper's orphan sweep, a process group killed) reaches it.
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
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import config
from grader.release.build import Built, build

ROOT = Path(__file__).resolve().parents[2]
# losses: inline mistakes; conv: a mistakes module and speed checks; cuda_timing: simulated
# workloads and the judge-side timer models; autograd: a class graded through handles, its
# reference answers kept as calls of plain data (programs in, data and grads out)
TOPICS = ("losses", "conv", "cuda_timing", "autograd")


@dataclass(frozen=True)
class Kit:
    built: Built
    seconds: float

    @property
    def folder(self) -> Path:
        return self.built.folder


def run_in(kit: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python *args`` in ``kit`` with the kit's own grader importable (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SECRET"}
    env["PYTHONPATH"] = str(kit)
    return subprocess.run(
        [sys.executable, *args], cwd=kit, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def course() -> config.Course:
    return config.load(ROOT / "autograder.yml")


BUILD_TIMEOUT_S = 900
_early: dict[str, Path] = {}  # the early build's folder, while the session runs


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the release's build when a collected test uses ``kit`` (module docstring)."""
    wanted = any("kit" in getattr(item, "fixturenames", ()) for item in session.items)
    if not wanted or session.config.option.collectonly:
        return
    out = Path(tempfile.mkdtemp(prefix="grader-test-release-"))
    script = Path(__file__).with_name("build_kit.py")
    # sh starts the build in a new session and exits: the build's parent is gone at once
    subprocess.run(
        ["sh", "-c", 'setsid "$@" > "$0/log" 2>&1 < /dev/null & echo $! > "$0/pid"', str(out)]
        + [sys.executable, str(script), str(ROOT), str(out), *TOPICS],
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        },
    )
    _early["out"] = out


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = _early.pop("out", None)
    if out is None:
        return
    if not (out / "built.pickle").exists() and not (out / "failed").exists():
        try:  # an interrupted session: the build (its own process group) goes too
            os.killpg(int((out / "pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    shutil.rmtree(out, ignore_errors=True)


def _alive(out: Path) -> bool:
    try:
        os.kill(int((out / "pid").read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="session")
def kit(course: config.Course, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    out = _early.get("out")
    if out is None:  # not started early (a test run that did not collect one): build here
        started = time.perf_counter()
        built = build(course, tmp_path_factory.mktemp("release") / "kit", TOPICS, check_tree=False)
        return Kit(built, time.perf_counter() - started)
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while True:
        alive = _alive(out)  # before looking for a result: one written before it exited is seen
        if (out / "built.pickle").exists():
            built, seconds = pickle.loads((out / "built.pickle").read_bytes())
            return Kit(built, seconds)
        if (out / "failed").exists():
            pytest.fail("building the release failed:\n" + (out / "failed").read_text())
        if not alive:
            log = (out / "log").read_text(errors="replace")[-3000:]
            pytest.fail(f"the release's build died without a result; its output:\n{log}")
        if time.monotonic() > deadline:
            pytest.fail(f"the release's build took more than {BUILD_TIMEOUT_S} s")
        time.sleep(0.2)

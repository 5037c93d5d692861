"""One release of a few topics per test session (``grader release --topic``): a full build takes
minutes on a loaded machine; ``test_full_release`` (slow) builds every topic.

The build starts as soon as the session's tests are collected, in a detached process of its own
(``build_kit.py``, ``tests/early.py``), and runs beside the tests before the release's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import config
from grader.release.build import Built, build
from tests import early

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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the release's build when a collected test uses ``kit`` (module docstring)."""
    wanted = any("kit" in getattr(item, "fixturenames", ()) for item in session.items)
    if wanted and not session.config.option.collectonly:
        early.start("release", Path(__file__).with_name("build_kit.py"), str(ROOT), *TOPICS)


@pytest.fixture(scope="session")
def kit(course: config.Course, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    if not early.started("release"):  # a run that did not collect one at first: build here
        started = time.perf_counter()
        built = build(course, tmp_path_factory.mktemp("release") / "kit", TOPICS, check_tree=False)
        return Kit(built, time.perf_counter() - started)
    return Kit(*early.wait("release"))

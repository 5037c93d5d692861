"""Workers forked from a pre-imported template: as isolated as fresh ones, sharing nothing."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from grader.judge.student import Call, StudentModule
from grader.sandbox import template
from grader.sandbox.process import Sandbox

pytestmark = pytest.mark.skipif(not template.available(), reason="templates need Linux")

SOURCE = textwrap.dedent(
    """
    import os
    import numpy as np

    def descriptors():
        return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))

    def poison():
        np.POISONED = True
        np.add = None
        return 1

    def poisoned():
        return hasattr(np, "POISONED"), np.add is None

    def draw():
        return float(np.random.rand())

    def parent():
        return os.getppid()

    def session():
        return os.getsid(0) == os.getpid() or os.getpid() == 1
    """
)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "forked.py"
    path.write_text(SOURCE)
    return path


def student(module: Path, start: str = "fork") -> StudentModule:
    return StudentModule(module, "forked", Sandbox(start=start), 5.0, 5.0)


def test_workers_are_forked_from_a_template(module):
    s = student(module)
    s.loaded_functions()
    assert isinstance(s.worker.proc, template.ForkedProc)
    assert s.worker.proc.pid not in (os.getpid(), *template.template_pids())
    s.close()


def test_a_forked_worker_holds_only_the_descriptors_a_fresh_one_holds(module):
    fresh, forked = student(module, "spawn"), student(module)
    try:
        assert len(forked.call(Call("descriptors")).value) == len(
            fresh.call(Call("descriptors")).value
        )
        assert forked.call(Call("session")).value is True
    finally:
        fresh.close()
        forked.close()


def test_what_one_worker_changes_no_sibling_sees(module):
    first = student(module)
    assert first.call(Call("poison")).value == 1
    assert first.call(Call("poisoned")).value == (True, True)
    second = student(module)
    try:
        assert second.call(Call("poisoned")).value == (False, False)
    finally:
        first.close()
        second.close()


def test_unseeded_draws_differ_between_workers_as_in_fresh_processes(module):
    workers = [student(module) for _ in range(3)]
    try:
        draws = {w.call(Call("draw")).value for w in workers}
    finally:
        for w in workers:
            w.close()
    assert len(draws) == 3


def test_a_dead_template_is_restarted_and_takes_its_workers_along(module):
    s = student(module)
    s.loaded_functions()
    worker = s.worker
    old = template._templates[()].pid
    os.kill(old, signal.SIGKILL)
    code = worker.proc.wait(timeout=10)  # the parent-death signal, or the template's EOF
    assert code != 0 and not worker.alive()
    time.sleep(0.05)
    try:
        # the next call starts a new worker, from a new template
        assert isinstance(s.call(Call("draw")).value, float)
        assert s.starts == 2
        assert old not in template.template_pids()
        assert isinstance(s.worker.proc, template.ForkedProc)
    finally:
        s.close()


def test_forked_and_fresh_workers_grade_alike():
    from grader import config, pipeline

    root = Path(__file__).resolve().parents[2]
    course = config.load(root / "autograder.yml")
    alice = root / "examples/submissions/alice/dropout.py"
    graded = {}
    for start in ("fork", "spawn"):
        sandbox = pipeline.sandbox_for(course)
        sandbox = type(sandbox)(**{**sandbox.__dict__, "start": start})
        results, _ = pipeline.grade_topic(course, "dropout", alice, None, sandbox)
        graded[start] = [(r.check_id, r.outcome, r.points, r.message) for r in results]
    assert graded["fork"] == graded["spawn"]
    assert all(outcome.value == "passed" for _, outcome, _, _ in graded["fork"])


HASHED = """
def order():
    return list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
"""


def test_string_hashing_is_the_same_in_every_run(tmp_path):
    """The worker's hash seed is fixed (PYTHONHASHSEED=0 honoured): the order of a set of strings
    is the same in two judges' workers, forked or fresh."""
    import subprocess
    import sys

    module = tmp_path / "hashed.py"
    module.write_text(HASHED)
    script = (
        "import sys, json; from pathlib import Path; "
        "from grader.judge.student import Call, StudentModule; "
        "from grader.sandbox.process import Sandbox; "
        "s = StudentModule(Path(sys.argv[1]), 'hashed', Sandbox(start=sys.argv[2]), 5.0, 5.0); "
        "print(json.dumps(s.call(Call('order')).value)); s.close()"
    )
    root = str(Path(__file__).resolve().parents[2])
    orders = [
        subprocess.run(
            [sys.executable, "-c", script, str(module), start],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": root},
        ).stdout
        for start in ("fork", "fork", "spawn", "spawn")
    ]
    assert len(set(orders)) == 1 and orders[0].startswith("[")

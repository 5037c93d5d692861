"""A quiescent worker: what a student leaves running after a call is killed (processes) or
stopped (threads, and the serving process itself) until the judge's next request."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from grader.judge.student import Call, StudentModule
from grader.sandbox import quiesce
from grader.sandbox.process import Sandbox

SOURCE = textwrap.dedent(
    """
    import os, threading, time

    _count = [0]


    def _count_forever():
        while True:
            _count[0] += 1
            time.sleep(0.0005)


    def leave_running(n):
        for _ in range(n):
            if os.fork() == 0:  # a process that would spin for ever
                os.setsid()
                while True:
                    pass
        threading.Thread(target=_count_forever, daemon=True).start()
        return n


    def count():
        return _count[0]


    def fork_sleepers(n):
        for _ in range(n):  # left for the judge to kill: each a zombie until reaped
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        return n
    """
)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "leaver.py"
    path.write_text(SOURCE)
    return path


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _ticks_while_idle(module: Path, quiescent: bool) -> tuple[int, StudentModule]:
    s = StudentModule(module, "leaver", Sandbox(quiescent=quiescent), 5.0, 5.0)
    assert s.call(Call("leave_running", (3,))).value == 3
    before = s.call(Call("count")).value
    time.sleep(0.5)  # the judge is busy elsewhere: a free thread would count about 900 here
    return s.call(Call("count")).value - before, s


def test_leftover_processes_are_killed_and_the_worker_stopped_between_requests(module):
    ticks, s = _ticks_while_idle(module, quiescent=True)
    try:
        worker = s.worker
        serving = worker.serving_pid()
        assert worker.leftovers_killed >= 3
        alive = [p for p in quiesce.descendants(serving) if _state(p) not in ("Z", "X")]
        assert alive == []
        # stopped, threads and all: SIGSTOP was sent after the reply, and takes effect when the
        # process is next scheduled (until then /proc says R: on 2 busy cores, a while)
        deadline = time.monotonic() + 1.0
        while _state(serving) not in ("T", "t") and time.monotonic() < deadline:
            time.sleep(0.001)
        assert _state(serving) in ("T", "t")
        assert ticks < 50, ticks  # the thread ran only during the two short requests
        assert s.call(Call("count")).value >= 0  # and the worker still serves
    finally:
        s.close()


def test_without_quiescence_the_leftovers_run_on(module):
    """The same submission, the layer switched off: what the test above guards against."""
    ticks, s = _ticks_while_idle(module, quiescent=False)
    try:
        serving = s.worker.serving_pid()
        alive = [p for p in quiesce.descendants(serving) if _state(p) not in ("Z", "X")]
        assert ticks > 100 and (len(alive) >= 3 or os.geteuid() != 0)
    finally:
        s.close()


def test_what_the_judge_killed_is_reaped_and_does_not_use_up_the_process_limit(module):
    """Six calls each leaving 20 processes behind, under a limit of 64 processes: the judge
    kills them after each reply and the worker reaps them before the next call, so every fork
    succeeds (with a uid of its own, as root) and no zombie is left."""
    s = StudentModule(module, "leaver", Sandbox(processes=64), 10.0, 5.0)
    try:
        for _ in range(6):
            assert s.call(Call("fork_sleepers", (20,))).value == 20
        assert s.worker.leftovers_killed >= 100
        serving = s.worker.serving_pid()
        # the last ones are reaped at the next call (some a call later: dying takes a moment)
        for _ in range(100):
            if quiesce.descendants(serving) == []:
                break
            assert s.call(Call("count")).value == 0
        assert quiesce.descendants(serving) == []
    finally:
        s.close()

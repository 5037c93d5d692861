"""A batch's judge processes fork their workers from one template per kind (``Shared``)."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
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
    import time

    def draw():
        return 1.0

    def detach():
        # a double fork: the grandchild outlives its parent and is nobody's descendant
        reader, writer = os.pipe()
        if os.fork() == 0:
            if os.fork() == 0:
                os.write(writer, str(os.getpid()).encode().ljust(16))
                time.sleep(60)
            os._exit(0)
        return int(os.read(reader, 16))
    """
)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "shared.py"
    path.write_text(SOURCE)
    return path


@pytest.fixture
def shared():
    made = template.Shared({()}, template.scrubbed_env(), template.START_TIMEOUT_S)
    yield made
    made.close()


def judge(monkeypatch, shared: template.Shared) -> template.Channel:
    """This process as one judge of the batch: its workers fork through a channel."""
    channel = template.Channel((), shared.channels()[()], template.START_TIMEOUT_S)
    monkeypatch.setitem(template._templates, (), channel)
    return channel


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")))


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_two_judges_fork_from_the_same_template(module, shared, monkeypatch):
    parents = []
    for _ in range(2):  # a channel each, handed out before the template is even up
        judge(monkeypatch, shared)
        s = StudentModule(module, "shared", Sandbox(), 5.0, 5.0)
        try:
            assert s.call(Call("draw")).value == 1.0
            assert isinstance(s.worker.proc, template.ForkedProc)
            parents.append(parent_of(s.worker.proc.pid))
            assert isinstance(template._templates[()], template.Channel)  # no template of its own
        finally:
            s.close()
    assert parents[0] == parents[1] != os.getpid()


def test_a_judge_whose_shared_template_died_forks_from_its_own(module, shared, monkeypatch):
    channel = judge(monkeypatch, shared)
    s = StudentModule(module, "shared", Sandbox(), 5.0, 5.0)
    try:
        s.loaded_functions()
        old = parent_of(s.worker.proc.pid)
        os.kill(old, signal.SIGKILL)
        s.worker.proc.wait(timeout=10)  # its workers die with it
        assert gone(old, 5.0)
        deadline = time.monotonic() + 5
        while channel.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not channel.alive()
        assert s.call(Call("draw")).value == 1.0  # a new worker, from a template of its own
        own = template._templates[()]
        assert isinstance(own, template.Template) and own.pid != old
        assert parent_of(s.worker.proc.pid) == own.pid
    finally:
        s.close()
        template._templates.pop((), None).kill()


def test_a_kind_that_fails_to_start_leaves_each_judge_its_own(module, monkeypatch):
    failing = template.Shared({()}, template.scrubbed_env(), start_timeout=0.0001)
    try:
        channel = judge(monkeypatch, failing)
        deadline = time.monotonic() + 10
        while channel.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not channel.alive()  # its channel closed: the judge falls back
        s = StudentModule(module, "shared", Sandbox(), 5.0, 5.0)
        try:
            assert s.call(Call("draw")).value == 1.0
        finally:
            s.close()
            template._templates.pop((), None).kill()
    finally:
        failing.close()


def test_a_shared_template_kills_what_a_worker_detached(module, shared, monkeypatch):
    judge(monkeypatch, shared)
    # no PID namespace: the orphan is re-parented to the template, the nearest subreaper
    s = StudentModule(module, "shared", Sandbox(isolate=False), 5.0, 5.0)
    try:
        orphan = s.call(Call("detach")).value
        assert gone(orphan, 10 * template.STRAY_POLL_S + 1.0)
        assert s.call(Call("draw")).value == 1.0  # the worker itself is untouched
    finally:
        s.close()


def test_a_judges_orphan_sweep_spares_the_batchs_template(module, shared, monkeypatch):
    from grader.sandbox import process

    sweeping = threading.Event()
    sweeping.set()  # as in the grading command, a subreaper: closing a worker kills orphans
    monkeypatch.setattr(process, "_reaping", sweeping)
    parents = []
    for _ in range(2):
        judge(monkeypatch, shared)
        s = StudentModule(module, "shared", Sandbox(), 5.0, 5.0)
        try:
            assert s.call(Call("draw")).value == 1.0
            parents.append(parent_of(s.worker.proc.pid))
        finally:
            s.close()
    assert parents[0] == parents[1]  # the sweep after the first worker left the template be
    assert not gone(parents[0], 0.2)

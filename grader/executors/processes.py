"""Gradings in judge processes of their own (``--executor processes``): one per job.

Each judge process is started with ``multiprocessing``'s ``spawn`` (a fresh interpreter that
imports the grader), grades one submission at a time, and sends back the ``Graded`` result
over its own pipe; this process writes every file. Why this and not the alternatives:

- ``spawn``, not ``fork``: the calling judge has threads (each sandbox worker's output reader,
  a progress display), and a fork copies their locks in whatever state they are; ``forkserver``
  would save the interpreter start, but a batch starts ``--jobs`` processes once, so that is
  a second per batch, against one more process between the judge and its workers.
- our own pipes, not ``concurrent.futures.ProcessPoolExecutor``: when a judge process dies
  (a segfault in numpy, the OOM killer), the pool breaks and fails every pending grading,
  whereas here the one submission it was grading gets an "autograder failed" result, the
  process is replaced and the others go on; and the interrupt below needs each process's pid.

Sandbox workers in judge processes fork from the batch's templates (one per kind, started
here: ``template.Shared``), each judge process through a socket of its own; a shared template
kills its workers' orphans itself. Each judge process is a child subreaper
(``process.become_subreaper``) so that what a student detached from a worker it started
itself (a fresh one, or one of its own template's) is killed by its own judge
(``process._live`` and ``kill_orphans`` are per process), and it dies with this process
(``PR_SET_PDEATHSIG``): a batch killed outright (SIGKILL) takes its judge processes along,
and their workers follow them (a worker dies with its judge). SIGINT is ignored there (a
Ctrl-C reaches the whole process group; this process decides). On an interrupt this process
sends each judge process SIGTERM, on which the judge kills its workers (``process.stop_all``)
and exits; one that lingers is killed, and ``process.stop_all`` here then kills any orphan
reparented to this process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

from grader.config import Course
from grader.executors import Grade, Job, OnDone
from grader.sandbox import process, template
from grader.sandbox.process import Sandbox

PR_SET_PDEATHSIG = 1
STOPPED = 75  # exit status of a judge process stopped by SIGTERM (not a crash)
STOP_GRACE_S = 3.0


class JudgeDied(Exception):
    """The judge process grading a submission died before it answered."""


class GradingFailed(Exception):
    """The grading raised in the judge process (its type, message and traceback, as text)."""


def _stop_and_exit() -> None:
    process.stop_all()  # this judge's workers and what they detached
    os._exit(STOPPED)


def _on_sigterm(signum: int, frame: Any) -> None:
    # not in the handler itself: it may have interrupted this thread inside the worker
    # registry's lock, which stop_all takes
    threading.Thread(target=_stop_and_exit, daemon=True).start()


def _arm(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's pipe closing still stops us
        pass
    if os.getppid() != parent:  # the parent died before the guard was armed
        os._exit(STOPPED)
    process.become_subreaper()


def serve(conn: Connection, parent: int, channels: dict[tuple[str, ...], Any]) -> None:
    """A judge process: grade what arrives on ``conn`` until it closes or sends None; its
    workers fork from the batch's templates through ``channels`` (``template.Shared``)."""
    _arm(parent)
    template.adopt(channels, template.START_TIMEOUT_S)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        grade, args = task
        try:
            reply = ("ok", grade(*args))
        except BaseException as exc:  # sent as text: nothing of ours to unpickle or import
            reply = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(reply)
        except (OSError, ValueError):  # the parent is gone
            return
        except Exception as exc:  # a result that does not pickle: a grader bug, said so
            conn.send(("error", f"cannot send the result: {type(exc).__name__}: {exc}"))


class _Judge:
    def __init__(self, ctx: Any, shared: template.Shared | None) -> None:
        mine, theirs = ctx.Pipe(duplex=True)
        channels = shared.channels() if shared else {}
        self.proc = ctx.Process(target=serve, args=(theirs, os.getpid(), channels), daemon=True)
        self.proc.start()
        theirs.close()
        for sock in channels.values():  # the judge process has its copies now
            sock.close()
        self.conn: Connection = mine
        self.index: int | None = None

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start children with SIGINT ignored (inherited through exec): a Ctrl-C while one is still
    importing the grader must not print its traceback. Main thread only; a no-op elsewhere."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class ProcessExecutor:
    name = "processes"

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)
        self._ctx = multiprocessing.get_context("spawn")

    def _start(self, shared: template.Shared | None) -> _Judge:
        with _sigint_ignored():
            return _Judge(self._ctx, shared)

    def run(
        self,
        grade: Grade,
        course: Course,
        sandbox: Sandbox,
        jobs: Sequence[Job],
        on_done: OnDone,
    ) -> None:
        queue = deque(range(len(jobs)))
        judges: list[_Judge] = []
        shared = _shared_templates(course, sandbox, jobs)

        def dispatch(judge: _Judge) -> None:
            if queue:
                judge.index = queue.popleft()
                job = jobs[judge.index]
                judge.conn.send((grade, (course, job.sub, job.topics, sandbox)))

        try:
            for _ in range(min(self.jobs, len(jobs))):
                judges.append(self._start(shared))
                dispatch(judges[-1])
            while any(j.index is not None for j in judges):
                busy = [j for j in judges if j.index is not None]
                ready = wait([j.conn for j in busy] + [j.proc.sentinel for j in busy])
                for judge in busy:
                    reply = None
                    if judge.conn in ready:
                        try:
                            reply = judge.conn.recv()
                        except (EOFError, OSError):  # it died; how, its exit status says
                            pass
                    if reply is not None:
                        index, judge.index = judge.index, None
                        kind, value = reply
                        on_done(index, value if kind == "ok" else GradingFailed(value))
                    elif judge.proc.sentinel in ready or judge.conn in ready:
                        judge.proc.join()
                        if judge.proc.exitcode == STOPPED:  # SIGTERM to the process group
                            raise KeyboardInterrupt
                        index, judge.index = judge.index, None
                        on_done(index, JudgeDied(_death(judge.proc.exitcode)))
                    else:
                        continue
                    if not judge.proc.is_alive():  # replaced, for the submissions that remain
                        judge.proc.join()
                        if judge.proc.exitcode == STOPPED:
                            raise KeyboardInterrupt
                        if not queue:
                            continue
                        judge.conn.close()
                        judges[judges.index(judge)] = judge = self._start(shared)
                    dispatch(judge)
        except BaseException:
            _stop(judges)
            raise
        else:
            for judge in judges:
                judge.close()
            for judge in judges:
                judge.proc.join(timeout=STOP_GRACE_S)
                if judge.proc.is_alive():
                    judge.proc.kill()
                    judge.proc.join()
        finally:
            if shared is not None:
                shared.close()


def _shared_templates(
    course: Course, sandbox: Sandbox, jobs: Sequence[Job]
) -> template.Shared | None:
    """The batch's worker templates, one per kind its submitted topics need, shared by its
    judge processes (None where workers are not forked from templates)."""
    if sandbox.start != "fork" or not template.available():
        return None
    from grader.pipeline import preloads

    kinds = preloads(course, {t for job in jobs for t in job.topics if job.sub.modules.get(t)})
    return template.Shared(kinds, template.scrubbed_env(), sandbox.start_timeout_s)


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            how = f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with status {code}"
    return f"the judge process grading this submission {how} before it answered"


def _stop(judges: list[_Judge]) -> None:
    """Stop every judge process and its workers, then kill what they may have left to us."""
    for judge in judges:
        if judge.proc.is_alive():
            try:
                os.kill(judge.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE_S
    for judge in judges:
        judge.proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if judge.proc.is_alive():
            judge.proc.kill()
            judge.proc.join()
        judge.conn.close()
    process.stop_all()  # as a subreaper: the orphans of judges that had to be killed
    process.resume()

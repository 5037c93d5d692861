"""A quiescent worker: nothing of a student runs while the judge is not waiting for a reply.

Student code can leave processes or threads running after a call returns (a fork and a busy
loop, a thread that spins or modifies the inputs later). Running on, they would slow whatever
the judge measures next (the reference's round trip in a speed race, or a classmate's grading
on the same machine) and could change the inputs after the judge has read them back. So the
judge (``grader.sandbox.process``), after every reply:

1. kills every descendant of the process that serves the calls (in a PID namespace that is every
   other process of the namespace: orphans are re-parented to its first process, the serving
   one; children are read from ``/proc/<pid>/task/<tid>/children``), and
2. stops the serving process itself, all its threads included, with ``SIGSTOP``;

and continues it (``SIGCONT``) just before the next request. The judge runs as root or as the
worker's own uid, so both signals reach it; a namespace's first process receives ``SIGSTOP`` from
an ancestor namespace like any process.

Linux only (``/proc``); elsewhere every function here does nothing.
"""

from __future__ import annotations

import os
import signal
import time

STOP_WAIT_S = 0.05  # at most this long to see a stopped process in /proc (the kernel is quicker)


def threads(pid: int) -> list[int]:
    """The thread ids of process ``pid`` (empty when it is gone or /proc is not there)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return []


def children(pid: int) -> list[int]:
    """The direct children of every thread of ``pid``."""
    found: list[int] = []
    for tid in threads(pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int, limit: int = 4096) -> list[int]:
    """Every process below ``pid`` (children first), at most ``limit``; zombies included."""
    seen: list[int] = []
    todo = children(pid)
    while todo and len(seen) < limit:
        child = todo.pop()
        if child in seen or child == pid:
            continue
        seen.append(child)
        todo += children(child)
    return seen


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


def kill_descendants(pid: int, done: set[int] | None = None) -> int:
    """SIGKILL every live descendant of ``pid`` not in ``done`` (the ones signalled already,
    which this adds to); how many were signalled now (zombies are not)."""
    done = set() if done is None else done
    killed = 0
    for child in descendants(pid):
        if child in done or _state(child) in ("Z", "X", ""):
            continue
        try:
            os.kill(child, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
        done.add(child)
    return killed


def stop(pid: int, wait: bool = False) -> bool:
    """Stop ``pid`` (all its threads); with ``wait``, until /proc shows it stopped (bounded by
    ``STOP_WAIT_S``). False when the process is gone."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except (ProcessLookupError, PermissionError):
        return False
    if wait:
        until = time.monotonic() + STOP_WAIT_S
        while _state(pid) not in ("T", "t", "Z", "X", "") and time.monotonic() < until:
            time.sleep(0.0002)
    return True


def resume(pid: int) -> None:
    """Let a stopped ``pid`` run again."""
    try:
        os.kill(pid, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass


def quiesce(pid: int, wait: bool = False) -> int:
    """Kill what ``pid`` left running below it, then stop it; the number of processes killed.

    The descendants are looked for again after the stop, until none is left alive: one forked
    between a look and its parent's kill is caught by the next look."""
    done: set[int] = set()
    killed = kill_descendants(pid, done)
    if not stop(pid, wait):
        return killed
    for _ in range(8):  # a child may have forked between a look and its kill
        more = kill_descendants(pid, done)
        killed += more
        if not more:
            break
    return killed

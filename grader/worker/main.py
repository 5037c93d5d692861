"""The worker: a fresh, sandboxed Python process that evaluates the calls the judge asks for.

It is started by ``grader.sandbox.process``, forked from a pre-imported template process
(``grader.sandbox.template``) or as ``python -s -P -c <bootstrap> CONFIG_JSON``. It reads
the student module's source, isolates itself (``grader.sandbox.layers``), says hello, and then
answers requests until its request channel closes. It never decides whether anything is right:
it returns plain data (``grader.protocol``) and keeps everything else behind handles.
"""

from __future__ import annotations

import io
import json
import linecache
import os
import signal
import sys
import time
from typing import Any

import numpy as np
import numpy.linalg  # noqa: F401  (pre-import what students use: the sandbox may hide site-packages)
import numpy.random  # noqa: F401

from grader.protocol.arena import attach
from grader.protocol.wire import PeerClosed, read_frame, write_frame
from grader.sandbox import layers, newroot
from grader.worker.ask import Channel
from grader.worker.calls import Evaluator


def _isolate(cfg: dict[str, Any], rep_fd: int) -> list[str]:
    """Apply the layers ``cfg`` asks for and the machine allows; return their names.

    As root with namespaces: all layers (the file system an allow-list: ``_file_system``), and
    a fork (the PID namespace's first process runs the student code). As root without them (a
    container without CAP_SYS_ADMIN): the uid switch alone, when the Python installation is
    readable by other users. Otherwise rlimits only.
    """
    applied = ["process", "python -s -P", "scrubbed env", "fixed hash seed"]
    if cfg.get("isolate") and layers.can_isolate():
        try:
            applied += layers.enter_namespaces()
            in_namespaces = True
        except OSError:
            applied.append("no namespaces (not permitted here)")
            in_namespaces = False
        if in_namespaces:
            applied += _file_system(cfg)
            lifeline = _fork_into_pid_namespace(rep_fd)
            layers.mount_proc()
            applied.append("private /proc")
        if in_namespaces or layers.reachable_by_others(cfg["reachable"]):
            applied += layers.drop_privileges(cfg["uid"])
            layers.die_with_parent()  # the uid switch cleared it
            if in_namespaces:
                _exit_if_orphaned(lifeline)
    rlimits = dict(cfg["rlimits"])
    if cfg.get("setup") == "cuda" and "memory_mb" in rlimits:
        # a CUDA context reserves tens of GiB of address space: cap the data segment instead
        rlimits["data_mb"] = rlimits.pop("memory_mb")
    applied += layers.set_rlimits(rlimits)
    os.chdir("/tmp" if os.path.isdir("/tmp") else "/")
    return applied


def _file_system(cfg: dict[str, Any]) -> list[str]:
    """The worker's view of the files: a root of the allow-list alone (``newroot``), or, when
    that cannot be built or ``cfg`` asks for it, the host's with the course hidden (a deny-list:
    ``layers.hide``); the names of what applied."""
    failed = ""
    if cfg.get("filesystem", "allow-list") == "allow-list":
        try:
            newroot.enter(cfg["allow"], cfg["tmpfs_mb"], cfg["hide"])
            return ["allow-list root", "private tmpfs"]
        except OSError as exc:
            failed = f" (the allow-list root failed: {exc})"
    layers.keep_reachable(cfg["reachable"])
    layers.private_tmp(cfg["tmpfs_mb"], keep=cfg["reachable"], extra=cfg.get("writable", ()))
    layers.hide(cfg["hide"], keep=cfg["reachable"])
    return ["private tmpfs", "reference files hidden" + failed]


def _fork_into_pid_namespace(rep_fd: int) -> int:
    """Fork; the child (pid 1 of the new PID namespace) returns and goes on, with the read end
    of a lifeline pipe whose write end only the parent holds. The parent tells the judge the
    child's pid (so the judge can kill the namespace), then mirrors its exit."""
    sync_r, sync_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()
    child = os.fork()
    if child:
        os.close(lifeline_r)  # lifeline_w stays open as long as this process lives
        os.close(sync_r)
        write_frame(rep_fd, {"inner_pid": child}, [])
        os.write(sync_w, b"x")
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(128 - code if code < 0 else code)  # a signal -> 128 + signal, as shells do
    os.close(lifeline_w)
    os.close(sync_w)  # only the parent holds it: if the parent dies first, the read sees EOF
    layers.die_with_parent()  # at once (cleared by the uid switch, armed again after it)
    if os.read(sync_r, 1) != b"x":
        os._exit(1)  # the parent died before telling the judge about this process
    os.close(sync_r)
    return lifeline_r


def _exit_if_orphaned(lifeline: int) -> None:
    """In the PID namespace's first process, once its parent-death signal is armed for good:
    if the parent died before that (the lifeline pipe reads EOF), exit; a pid-based check
    cannot tell, as the parent is outside the namespace (getppid() is 0 either way)."""
    import select

    ready, _, _ = select.select([lifeline], [], [], 0)
    if ready and not os.read(lifeline, 1):
        os._exit(1)
    os.close(lifeline)


class CappedOutput(io.TextIOBase):
    """sys.stdout/sys.stderr for student code: the first ``limit`` characters go to the output
    pipe, the rest is counted and dropped here, so printing 100 MB costs no pipe traffic."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.left = limit
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        n = len(text)
        if self.left > 0:
            data = text[: self.left].encode("utf-8", "replace")
            self.left -= min(n, self.left)
            while data:
                data = data[os.write(self.fd, data) :]
            if self.left <= 0:
                os.write(self.fd, b"\n[... further output dropped by the grader]\n")
        else:
            self.dropped += n
        return n


def main() -> None:
    """A fresh worker: ``python -s -P -c <bootstrap> CONFIG_JSON``."""
    run(json.loads(sys.argv[1]))


def run(cfg: dict[str, Any]) -> None:
    """Serve one student module as ``cfg`` says (a fresh worker, or one forked from a template:
    ``grader.sandbox.template``); never returns."""
    layers.die_with_parent(cfg["judge_pid"])  # a judge killed outright takes its workers along
    req_fd, rep_fd = cfg["req_fd"], cfg["rep_fd"]
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the file-size limit: an OSError, not death
    with open(cfg["module_path"], encoding="utf-8", errors="replace") as fh:
        source = fh.read(cfg["max_source_bytes"])
    arena = None
    if cfg.get("arena_fd") is not None:  # the judge's shared memory, mapped before isolation
        arena = attach(cfg["arena_fd"], cfg["arena_size"])
        os.close(cfg["arena_fd"])
    started = time.perf_counter()
    isolation = _isolate(cfg, rep_fd)
    sys.stdout = sys.stderr = CappedOutput(1, cfg["output_chars"])
    evaluator = Evaluator(
        cfg["module_name"],
        cfg["module_path"],
        source,
        cfg.get("setup", ""),
        arena,
        Channel(req_fd, rep_fd),
    )
    linecache.cache[cfg["module_path"]] = (len(source), None, source.splitlines(True), "")
    write_frame(
        rep_fd,
        {
            "hello": True,
            "isolation": isolation,
            "pid": os.getpid(),
            "setup_s": time.perf_counter() - started,
        },
        [],
    )
    serve(evaluator, req_fd, rep_fd)


def reap() -> int:
    """Collect every child that has ended (how many). The judge kills what a student left
    running after each reply (``grader.sandbox.quiesce``); until this process waits for them
    they stay zombies, its children (in a PID namespace every orphan is), and count against the
    process limit, so a student forking on every call would run out of processes."""
    reaped = 0
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no child at all
            return reaped
        if pid == 0:  # children left, none ended
            return reaped
        reaped += 1


def serve(evaluator: Evaluator, req_fd: int, rep_fd: int) -> None:
    while True:
        try:
            header, arrays = read_frame(req_fd, None, 1 << 34)
        except PeerClosed:
            os._exit(0)
        reap()  # before the call: what the judge killed after the last one is gone by now
        blobs: list[np.ndarray] = []
        number = header.get("id")  # repeated in the reply: the judge matches them up
        if header.get("op") == "stream":  # one reply per request, each written as it is done
            for part, (reply, blobs) in enumerate(evaluator.stream(header, arrays)):
                _reply(rep_fd, {**reply, "id": number, "part": part}, blobs)
                reap()
            continue
        reply = evaluator.dispatch(header, arrays, blobs)
        _reply(rep_fd, {**reply, "id": number}, blobs)


def _reply(rep_fd: int, reply: dict[str, Any], blobs: list[np.ndarray]) -> None:
    try:
        write_frame(rep_fd, reply, blobs)
    except Exception as exc:  # e.g. a value too large to encode: report, keep serving
        marks = {k: reply[k] for k in ("id", "part") if k in reply}
        write_frame(rep_fd, {"ok": False, "error": Evaluator.describe(exc), **marks}, [])

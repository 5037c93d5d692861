"""Judge side of a worker: start it, talk to it under deadlines, capture its output, kill it.

A ``WorkerProcess`` is one sandboxed Python process serving one student module. Every request
has a wall-clock deadline enforced here, from outside; on a deadline the whole process tree is
killed (its process group, and the PID namespace's init when namespaces are in use).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import grader
from grader.protocol.arena import Arena
from grader.protocol.wire import (
    Deadline,
    MalformedHeader,
    PeerClosed,
    ProtocolError,
    encode_frame,
    read_frame,
    write_frame,
)
from grader.sandbox import allowlist, quiesce, template
from grader.sandbox.template import PR_SET_CHILD_SUBREAPER, scrubbed_env

GRADER_DIR = str(Path(grader.__file__).resolve().parent)  # the package, not the course around it
PACKAGE_PARENT = str(Path(GRADER_DIR).parent)
BOOTSTRAP = "import sys; sys.path.append({root!r}); from grader.worker.main import main; main()"
PYTHON_FLAGS = template.PYTHON_FLAGS  # -s -P: see there
_uids = itertools.count()
MAX_STALE_REPLIES = 4  # earlier replies skipped before a request's own (see WorkerProcess.request)


def worker_uid() -> int:
    """An unprivileged uid for one worker: distinct per worker of this judge (and, through the
    judge's pid, most likely of other judges on the machine); never a real account."""
    return 1_000_000 + (os.getpid() % 2000) * 1000 + next(_uids) % 1000


class WorkerDied(Exception):
    """The worker exited or broke the protocol; ``reason`` says how. Running out of memory shows
    as a MemoryError inside the worker (RLIMIT_AS), which the worker reports itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WorkerBadReply(WorkerDied):
    """The worker's reply could not be read as a frame (too long, too deeply nested, not
    JSON): the channel is out of step, so the worker has been killed; the call that got this
    reply is ``bad_output``, and the next call gets a new worker."""


class WorkerTimeout(Exception):
    """A request did not complete before its deadline; the worker has been killed."""


@dataclass(frozen=True)
class Sandbox:
    """What the worker is allowed: limits and, when possible, the stronger layers."""

    memory_mb: int = 1024
    cpu_s: int = 120
    file_size_mb: int = 16
    open_files: int = 64
    processes: int = 64
    output_kb: int = 64
    reply_mb: int = 256
    start_timeout_s: float = template.START_TIMEOUT_S
    isolate: bool = True
    hide: tuple[str, ...] = ()
    tmpfs_mb: int = 64
    setup: str = ""  # e.g. "simulated_cuda": installed in the worker before the module imports
    start: str = "fork"  # "fork": from a pre-imported template (grader.sandbox.template); "spawn"
    preload: tuple[str, ...] = ()  # what the template imports beyond numpy, e.g. ("torch",)
    arena_mb: int = 64  # shared memory for watched inputs (grader.protocol.arena); 0: none
    quiescent: bool = True  # between requests: leftovers killed, the worker stopped (quiesce)
    # "allow-list": the worker's root holds only what grader.sandbox.allowlist names;
    # "deny-list": the host's, with ``hide`` covered (also the fallback where the first fails)
    filesystem: str = "allow-list"


@dataclass
class _Output:
    limit: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def take(self) -> str:
        text = self.data.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped]"
        self.data.clear()
        self.dropped = 0
        return text


_live: set[WorkerProcess] = set()  # every worker of this judge that may still be running
_live_lock = threading.Lock()
_stop = threading.Event()


def stop_all() -> None:
    """Interrupt: kill every worker of this judge now and refuse to start new ones (until
    ``resume``), so that gradings in other threads end within moments."""
    _stop.set()
    with _live_lock:
        workers = list(_live)
    for worker in workers:
        worker.kill()
    kill_orphans()


def resume() -> None:
    _stop.clear()


def stopping() -> bool:
    return _stop.is_set()


_reaping = threading.Event()  # this process is a child subreaper: orphans come back here


def become_subreaper() -> bool:
    """Make this process (the grading command, which starts no child but workers) the parent
    of every orphan its workers leave (Linux), so that a process a student detached (setsid, a
    double fork) is still found and killed by ``kill_orphans``. Not for library callers that
    start children of their own."""
    try:
        import ctypes

        ok = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    if ok:
        _reaping.set()
    return ok


def kill_orphans() -> int:
    """As a subreaper: kill and reap every child of this process that is not a running
    worker (so an orphan a worker left behind); return how many. Does nothing otherwise."""
    if not _reaping.is_set():
        return 0
    with _live_lock:  # no worker starts meanwhile, so every unknown child is an orphan
        known = {w.proc.pid for w in _live} | template.template_pids() | _multiprocessing_pids()
        return _kill_unknown_children(known)


def _multiprocessing_pids() -> set[int]:
    """The children ``multiprocessing`` started in this process, which are no orphans: its
    processes (a batch's judge processes, a Dask ``LocalCluster``'s workers) and its resource
    tracker. Killing the tracker makes ``multiprocessing`` warn that "resource_tracker: process
    died unexpectedly" and start another (seen when a test ran ``grader.cli.main`` in-process,
    which makes the test process a subreaper, before a test that used multiprocessing)."""
    pids: set[int] = set()
    if "multiprocessing" in sys.modules:  # never imported here just to look
        import multiprocessing

        pids |= {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    if tracker is not None:
        pid = getattr(getattr(tracker, "_resource_tracker", None), "_pid", None)
        if isinstance(pid, int):
            pids.add(pid)
    return pids


def _kill_unknown_children(known: set[int]) -> int:
    me, killed = str(os.getpid()), 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in known:
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if next((ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")), "") != me:
            continue
        try:
            os.kill(int(entry.name), signal.SIGKILL)
            os.waitpid(int(entry.name), 0)
            killed += 1
        except (ProcessLookupError, ChildProcessError, PermissionError):
            pass
    return killed


# A request or reply of a few MiB (a speed check's round of arrays) crosses a default 64 KiB
# pipe in dozens of hand-overs between the two processes; 1 MiB (Linux's default most for an
# unprivileged pipe) cuts them to a few.
PIPE_BYTES = 1 << 20


def _roomy_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # above /proc/sys/fs/pipe-max-size, or the user's pipe quota: keep 64 KiB
        pass
    return read_end, write_end


class WorkerProcess:
    def __init__(self, module_path: Path, module_name: str, sandbox: Sandbox) -> None:
        if _stop.is_set():
            raise WorkerDied("grading was interrupted")
        self.sandbox = sandbox
        # before the worker is in ``_live``: an interrupt's ``stop_all`` may kill it from then on
        self.inner_pid: int | None = None
        req_r, self._req_w = _roomy_pipe()
        self._rep_r, rep_w = _roomy_pipe()
        out_r, out_w = os.pipe()
        self.arena = Arena.create(sandbox.arena_mb)
        cfg = {
            "arena_fd": self.arena.fd if self.arena else None,
            "arena_size": self.arena.size if self.arena else 0,
            "judge_pid": os.getpid(),
            "req_fd": req_r,
            "rep_fd": rep_w,
            "module_path": str(module_path),
            "module_name": module_name,
            "max_source_bytes": 2 * 1024 * 1024,
            "isolate": sandbox.isolate,
            "hide": list(sandbox.hide),
            # the Python installation and the grader's own code stay readable for the worker's
            # uid (wherever the checkout lies: under /tmp or /root); the course does not
            "reachable": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, GRADER_DIR}),
            "filesystem": sandbox.filesystem,
            "allow": allowlist.allow_list(str(module_path), GRADER_DIR, sandbox.setup),
            "writable": list(allowlist.writable_by_others()),
            "tmpfs_mb": sandbox.tmpfs_mb,
            "setup": sandbox.setup,
            "uid": worker_uid(),
            "output_chars": sandbox.output_kb * 1024,
            "rlimits": {
                "memory_mb": sandbox.memory_mb,
                "cpu_s": sandbox.cpu_s,
                "file_size_mb": sandbox.file_size_mb,
                "open_files": sandbox.open_files,
                "processes": sandbox.processes,
            },
        }
        self.started = time.monotonic()
        try:
            source = self._template(sandbox)
            with _live_lock:  # started and registered at once: kill_orphans never mistakes it
                self.proc = self._start(source, cfg, (req_r, rep_w, out_w), self.arena)
                _live.add(self)
        finally:
            for fd in (req_r, rep_w, out_w):
                os.close(fd)
        self.output = _Output(limit=sandbox.output_kb * 1024)
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()
        self.isolation: list[str] = []
        self.setup_s = 0.0
        self._sequence = 0  # of the last request (see ``request``)
        self._stopped = False  # by ``_quiesce``, until the next request
        self.leftovers_killed = 0  # processes the student left running, killed after a reply
        self._hello()
        self._quiesce()

    @staticmethod
    def warm(sandbox: Sandbox) -> None:
        """Have the template this sandbox forks from start now, in the background."""
        if sandbox.start == "fork" and template.available() and not _stop.is_set():
            template.warm(sandbox.preload, scrubbed_env(), sandbox.start_timeout_s)

    @staticmethod
    def _template(sandbox: Sandbox) -> template.Template | None:
        """The template to fork from, or None to start a fresh interpreter."""
        if sandbox.start != "fork" or not template.available():
            return None
        try:
            return template.template(sandbox.preload, scrubbed_env(), sandbox.start_timeout_s)
        except template.TemplateError:
            return None

    @classmethod
    def _start(
        cls,
        source: template.Template | None,
        cfg: dict[str, Any],
        pipes: tuple[int, int, int],
        arena: Arena | None,
    ) -> subprocess.Popen | template.ForkedProc:
        extra = (arena.fd,) if arena else ()
        if source is not None:
            try:
                return source.fork(cfg, *pipes, extra=extra)
            except template.TemplateError:
                pass  # a fresh interpreter instead
        return cls._spawn(cfg, *pipes, extra=extra)

    @staticmethod
    def _spawn(
        cfg: dict[str, Any], req_r: int, rep_w: int, out_w: int, extra: tuple[int, ...] = ()
    ) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                *PYTHON_FLAGS,
                "-c",
                BOOTSTRAP.format(root=PACKAGE_PARENT),
                json.dumps(cfg),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(req_r, rep_w, *extra),
            env=scrubbed_env(),
            cwd="/",
            start_new_session=True,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def _hello(self) -> None:
        deadline = time.monotonic() + self.sandbox.start_timeout_s
        while True:
            try:
                header = self._read(deadline, what="start")[0]
            except WorkerDied as exc:
                self._drain.join(timeout=2)
                tail = self.output.take()[-2000:]
                raise WorkerDied(f"{exc.reason}; its output: {tail}") from None
            if "inner_pid" in header:
                self.inner_pid = int(header["inner_pid"])
            elif header.get("hello"):
                self.isolation = [str(x) for x in header.get("isolation", [])]
                self.setup_s = float(header.get("setup_s", 0.0))
                return
            else:
                self.kill()
                raise WorkerDied("worker sent something other than hello at start")

    def _drain_output(self, fd: int) -> None:
        out = self.output
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                room = out.limit - len(out.data)
                if room > 0:
                    out.data += chunk[:room]
                out.dropped += max(0, len(chunk) - max(room, 0))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the whole tree: the PID namespace's init, the process group, the process."""
        if self.inner_pid:
            try:
                os.kill(self.inner_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.inner_pid = None
        kill_orphans()  # what the student detached: before _close, as it may hold the output pipe
        self._close()

    def serving_pid(self) -> int:
        """The process that runs the student's code: the PID namespace's first process, or
        the worker process itself without namespaces."""
        return self.inner_pid or self.proc.pid

    def _quiesce(self, wait: bool = False) -> None:
        """Kill what the student left running and stop the worker until the next request
        (``grader.sandbox.quiesce``); ``wait``: until it is seen stopped (the signal takes
        effect within microseconds on a running process; waiting costs a scheduler round on
        a loaded machine, so only where the judge reads shared memory next)."""
        if not self.sandbox.quiescent or not self.alive():
            return
        self.leftovers_killed += quiesce.quiesce(self.serving_pid(), wait)
        self._stopped = True

    def thread_count(self) -> int:
        """Threads of the serving process now (0 when it is gone)."""
        return len(quiesce.threads(self.serving_pid()))

    def let_run(self, seconds: float, threads: int) -> None:
        """Let a stopped worker run for up to ``seconds`` (ending early once it is down to
        ``threads`` threads), then quiesce it again: what a thread the student left running
        does meanwhile happens before the judge reads anything back."""
        if not self._stopped:
            return
        self._resume()
        until = time.monotonic() + seconds
        while time.monotonic() < until and self.thread_count() > threads:
            time.sleep(0.005)
        self._quiesce(wait=True)

    def settle(self) -> None:
        """Wait until a quiesced worker is seen stopped (before reading shared memory)."""
        if self._stopped:
            quiesce.stop(self.serving_pid(), wait=True)

    def _resume(self) -> None:
        if self._stopped:
            quiesce.resume(self.serving_pid())
            self._stopped = False

    def _forget(self) -> None:
        with _live_lock:
            _live.discard(self)

    def close(self) -> None:
        """Ask the worker to finish (close its request channel); kill it if it lingers."""
        self._resume()  # a stopped worker would not see its request channel close
        try:
            os.close(self._req_w)
            self._req_w = -1
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def _close(self) -> None:
        self._forget()
        if self.arena is not None:
            self.arena.close()
            self.arena = None
        for attr in ("_req_w", "_rep_r"):
            fd = getattr(self, attr)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)
        self._drain.join(timeout=2)

    # -- requests ----------------------------------------------------------------------------
    def _read(self, deadline: float, what: str) -> tuple[dict[str, Any], list[np.ndarray]]:
        try:
            return read_frame(self._rep_r, deadline, self.sandbox.reply_mb * 1024 * 1024)
        except Deadline:
            self.kill()
            raise WorkerTimeout(what) from None
        except PeerClosed:
            code = self.proc.wait()
            self.inner_pid = None
            self._close()
            raise WorkerDied(_exit_reason(code)) from None
        except MalformedHeader as exc:
            self.kill()
            raise WorkerBadReply(f"the reply could not be read: {exc}") from None
        except ProtocolError as exc:
            self.kill()
            raise WorkerDied(f"the worker broke the protocol: {exc}") from None

    def request(
        self,
        header: dict[str, Any],
        blobs: list[np.ndarray],
        timeout: float,
        answer: Callable[[Any], Any] | None = None,
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Send one request and wait for its reply; raises WorkerTimeout or WorkerDied.

        Each request carries a sequence number that its reply repeats: student code can write
        frames of its own to the reply channel, so a reply with an earlier number (the
        worker's own reply after a forged one) is skipped, and anything else out of step is a
        ``WorkerBadReply``. ``answer`` answers the worker's questions until the reply comes
        (``grader.worker.ask``), all within the deadline."""
        deadline = time.monotonic() + timeout
        self._sequence += 1
        self._resume()
        self._send(header, blobs)
        stale = 0
        while True:
            reply = self._read(deadline, what=str(header.get("op")))
            if "ask" in reply[0]:
                if answer is None:
                    self.kill()  # it waits for an answer that never comes: out of step
                    raise WorkerDied("the worker asked a question during a call that answers none")
                try:
                    result = answer(reply[0]["ask"])
                except BaseException:
                    self.kill()
                    raise
                self._answer({"answer": result}, deadline)
                continue
            number = reply[0].get("id")
            if number == self._sequence and type(number) is int:
                self._quiesce()
                return reply
            stale += 1
            earlier = type(number) is int and 0 < number < self._sequence
            if not earlier or stale > MAX_STALE_REPLIES:
                break
        self.kill()
        raise WorkerBadReply("a reply out of step with the requests (frames of its own?)")

    def stream(
        self, header: dict[str, Any], blobs: list[np.ndarray], timeouts: list[float]
    ) -> tuple[list[tuple[dict[str, Any], list[np.ndarray]]], Exception | None]:
        """Send a ``stream`` of requests (``header["ops"]``) and read its replies, one frame
        each, in order: the i-th within ``timeouts[i]`` of the one before (a call's own
        deadline, as if it were sent alone). Returns the replies read and, when they are not
        all there, why (``WorkerTimeout``, ``WorkerDied`` or ``WorkerBadReply``: a frame that
        is not the next part of this stream's reply); the worker is then gone. The worker
        runs the requests back to back and is quiesced once, after the last."""
        self._sequence += 1
        self._resume()
        replies: list[tuple[dict[str, Any], list[np.ndarray]]] = []
        try:
            self._send(header, blobs)
            for part, timeout in enumerate(timeouts):
                reply = self._read(time.monotonic() + timeout, what="stream")
                number, index = reply[0].get("id"), reply[0].get("part")
                if not (type(number) is int and number == self._sequence and index == part):
                    self.kill()
                    raise WorkerBadReply(
                        "a reply out of step with the requests (frames of its own?)"
                    )
                replies.append(reply)
        except (WorkerTimeout, WorkerDied) as exc:
            return replies, exc
        self._quiesce()
        return replies, None

    def _answer(self, header: dict[str, Any], deadline: float) -> None:
        """Write an answer by the deadline: a worker that asks and never reads the answers
        must not block the judge on a full pipe."""
        data = memoryview(encode_frame(header, []))
        try:
            os.set_blocking(self._req_w, False)
            while data:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise WorkerTimeout("answer")
                if select.select([], [self._req_w], [], left)[1]:
                    try:
                        data = data[os.write(self._req_w, data) :]
                    except BlockingIOError:
                        pass
        except OSError:  # the worker is gone (a broken pipe)
            code = self.proc.wait()
            self._close()
            raise WorkerDied(_exit_reason(code)) from None
        finally:
            if self._req_w >= 0:
                os.set_blocking(self._req_w, True)

    def _send(self, header: dict[str, Any], blobs: list[np.ndarray]) -> None:
        if self._req_w < 0:
            raise WorkerDied("worker is not running")
        try:
            write_frame(self._req_w, {**header, "id": self._sequence}, blobs)
        except (BrokenPipeError, OSError):
            code = self.proc.wait()
            self._close()
            raise WorkerDied(_exit_reason(code)) from None


def _signal_of(code: int) -> int | None:
    """The signal that ended the worker (directly, or as 128+N mirrored by the PID-ns parent)."""
    if code < 0:
        return -code
    if code > 128:
        return code - 128
    return None


def _exit_reason(code: int) -> str:
    sig = _signal_of(code)
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        hint = " (out of memory?)" if sig == signal.SIGKILL else ""
        return f"the worker process was killed by signal {name}{hint}"
    return f"the worker process exited with status {code} during the call (os._exit or a crash)"

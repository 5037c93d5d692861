"""Workers forked from a pre-imported template process instead of started as fresh interpreters.

A fresh worker costs an interpreter start and the imports (numpy about 0.2 s of CPU, torch about
2.5 s). A ``Template`` is a process started once per judge (and per set of pre-imports) in the
same way as a worker (``python -s -P``, scrubbed environment with a fixed hash seed, its own
session), which imports numpy,
the worker's own modules and, for the topics that need it, torch, and then does one thing: fork a
worker when the judge asks for one. It never loads a student module and never answers a call.

Each forked worker then goes exactly the way a fresh worker goes (``grader.worker.main.run``):
it reads the student's source, applies every isolation layer to itself, and only then imports the
student module. The child shares nothing writable with the template or its siblings: memory is
copy-on-write, every descriptor but its own request, reply and output pipes is closed, it gets a
session of its own and a fresh seed for numpy's global generator, as a fresh process would.

The judge talks to a template over a ``SOCK_SEQPACKET`` socket: a request is the worker's
configuration (JSON) with four descriptors (the worker's request and reply pipes, its output pipe
and a status pipe); the reply is the worker's pid. The template reaps its children and writes
each exit status into that child's status pipe, which the judge reads (``ForkedProc``: the
``wait``/``poll`` of a ``subprocess.Popen`` for a process that is not the judge's child).

The template dies with the judge (the parent-death signal, armed by a thread of the judge that
lives as long as the judge), its workers die with it, and a dead template is started again on
the next request.

A batch graded by judge processes (``--executor processes``) starts one template per kind
itself (``Shared``) and hands each judge process a socket of its own to it (``Channel``): one
torch template for the batch, not one per judge process (about 200 MiB each). A judge's socket
forks only that judge's workers; a judge process whose shared template died, or never started,
starts one of its own. As its workers are no judge's children there, a shared template is the
subreaper of their orphans and kills each within ``STRAY_POLL_S``; the workers of a judge
whose socket closes are killed.

``grader check`` forks from a daemon instead (``grader.sandbox.daemon``): the same template,
left running between a student's checks, so that torch is not imported again each time.

Where a template cannot be used (not Linux, or it fails to start), workers are started fresh,
as before; ``Sandbox.start = "spawn"`` asks for that explicitly.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.sandbox import quiesce

_STATUS = struct.Struct("<i")  # the exit code as subprocess reports it (negative: a signal)
# No user site-packages (-s), no script folder on sys.path (-P), and the environment the judge
# builds itself (scrubbed_env), not -I: -I also ignores PYTHONHASHSEED, and the order of a set
# of strings would then change from run to run. Fresh workers start the same way.
PYTHON_FLAGS = ("-s", "-P")


# Variables that keep numerical libraries single-threaded and working on this machine.
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL")
START_TIMEOUT_S = 15.0  # a worker (or template) that is not ready by then failed to start
STRAY_POLL_S = 0.05  # how often a shared template looks for orphans to kill
IDLE_POLL_S = 1.0  # the same without a worker running (a dead worker's orphans)
PR_SET_CHILD_SUBREAPER = 36
LISTEN_ENV = "GRADER_TEMPLATE_LISTEN"  # a daemon's socket (grader.sandbox.daemon.start)


def scrubbed_env() -> dict[str, str]:
    """The environment of workers and templates: nothing of the judge's but ``PASS_THROUGH``."""
    env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
    env.update(
        PATH="/usr/bin:/bin",
        HOME="/tmp",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class TemplateError(OSError):
    """The template could not start or fork a worker; the judge falls back to a fresh one."""


class ForkedProc:
    """``pid``, ``returncode``, ``poll()`` and ``wait(timeout)`` of a forked worker, from the exit
    status its template writes into the status pipe (EOF without one: the template died, and
    the worker with it)."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._fd = status_fd
        self._lock = threading.Lock()

    def _take(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                return None
            data = b""
            while len(data) < _STATUS.size:
                chunk = os.read(self._fd, _STATUS.size - len(data))
                if not chunk:
                    break
                data += chunk
            os.close(self._fd)
            self._fd = -1
            self.returncode = _STATUS.unpack(data)[0] if len(data) == _STATUS.size else -9
            return self.returncode

    def poll(self) -> int | None:
        return self._take(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._take(timeout)
        if code is None:
            raise subprocess.TimeoutExpired("worker", timeout or 0)
        return code


class _Forks:
    """``fork`` over ``self._sock`` under ``self._lock`` (a ``Template``'s or a ``Channel``'s)."""

    _sock: socket.socket
    _lock: threading.Lock

    def fork(
        self,
        cfg: dict[str, Any],
        req_r: int,
        rep_w: int,
        out_w: int,
        extra: tuple[int, ...] = (),
    ) -> ForkedProc:
        """A worker for ``cfg`` on these pipes (the caller closes its copies, as after Popen);
        ``extra``: descriptors it keeps as well (the arena, ``cfg["arena_fd"]``)."""
        with self._lock:
            try:
                return _fork(self._sock, cfg, [req_r, rep_w, out_w], extra)
            except TemplateError:
                # a late reply to this request would be read as the next one's: this socket
                # is done (a template that sees it close kills whatever it forked for it)
                self._sock.close()
                raise


class Template(_Forks):
    """One template process and the socket to it; ``fork`` is safe from any thread. A
    ``shared`` one also serves the judge processes of a batch (``attach``, ``Shared``)."""

    def __init__(
        self,
        preload: tuple[str, ...],
        env: dict[str, str],
        start_timeout: float,
        shared: bool = False,
    ) -> None:
        self.preload = preload
        self._lock = threading.Lock()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = mine
        started = threading.Event()
        failure: list[BaseException] = []

        def keep() -> None:
            # the template's parent-death signal is tied to this thread: it lives as long as
            # the judge (a daemon thread), waiting for the template to end
            try:
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        *PYTHON_FLAGS,
                        "-c",
                        BOOTSTRAP,
                        json.dumps(list(preload)) + " " * TITLE_ROOM,  # room for titles
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    env={
                        **env,
                        "GRADER_TEMPLATE_FD": str(theirs.fileno()),
                        "GRADER_JUDGE_PID": str(os.getpid()),
                        "GRADER_TEMPLATE_SHARED": "1" if shared else "",
                    },
                    cwd="/",
                    start_new_session=True,
                )
            except OSError as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self.proc.wait()

        threading.Thread(target=keep, name=f"worker-template{preload}", daemon=True).start()
        started.wait()
        theirs.close()
        if failure:
            raise TemplateError(f"the worker template did not start: {failure[0]}")
        mine.settimeout(start_timeout)
        try:
            ready = mine.recv(64)
        except OSError as exc:
            self.kill()
            raise TemplateError(f"the worker template did not start: {exc}") from None
        if ready != b"ready":
            self.kill()
            raise TemplateError("the worker template did not start (it exited)")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self._sock.fileno() >= 0 and self.proc.poll() is None

    def attach(self, theirs: socket.socket) -> None:
        """Have the template serve requests on ``theirs`` too (the other end of a judge
        process's ``Channel``); the caller closes its copy."""
        try:
            with self._lock:
                socket.send_fds(self._sock, [b"attach"], [theirs.fileno()])
        except OSError as exc:
            raise TemplateError(f"the worker template failed: {exc}") from None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            pass
        self._sock.close()


def _fork(
    sock: socket.socket, cfg: dict[str, Any], pipes: list[int], extra: tuple[int, ...]
) -> ForkedProc:
    status_r, status_w = os.pipe()
    try:
        socket.send_fds(sock, [json.dumps(cfg).encode()], [*pipes, status_w, *extra])
        reply = sock.recv(64)
    except OSError as exc:
        os.close(status_r)
        raise TemplateError(f"the worker template failed: {exc}") from None
    finally:
        os.close(status_w)
    pid = int(json.loads(reply)["pid"]) if reply else -1
    if pid <= 0:
        os.close(status_r)
        raise TemplateError("the worker template could not fork a worker")
    return ForkedProc(pid, status_r)


class Channel(_Forks):
    """A judge's socket to a template another process started (its batch's, ``Shared``) or
    to a daemon (``grader.sandbox.daemon``): ``fork`` as a ``Template``'s; alive while the
    template (or the batch, until the template is up) holds the other end."""

    def __init__(
        self, preload: tuple[str, ...], sock: socket.socket, start_timeout: float, pid: int = -1
    ) -> None:
        self.preload = preload
        self.pid = pid  # a daemon's (spared by ``process.kill_orphans``); else not known here
        self._sock = sock
        self._sock.settimeout(start_timeout)  # a template that never answers is a failed one
        self._lock = threading.Lock()

    def alive(self) -> bool:
        if self._sock.fileno() < 0:
            return False
        ready, _, _ = select.select([self._sock], [], [], 0)
        return not ready  # a template only answers requests: readable here means it closed

    def kill(self) -> None:
        self._sock.close()  # the template goes on for the other judges


_templates: dict[tuple[str, ...], Template | Channel] = {}
_templates_lock = threading.Lock()


def template(
    preload: tuple[str, ...], env: dict[str, str], start_timeout: float
) -> Template | Channel:
    """The running template with these pre-imports, started (again) when there is none."""
    with _templates_lock:
        current = _templates.get(preload)
        if current is None or not current.alive():
            if current is not None:
                current.kill()
            current = _templates[preload] = _new(preload, env, start_timeout)
        return current


_daemons = threading.Event()  # set: fork from daemons (grader check), see ``use_daemons``


def use_daemons() -> None:
    """From now on, templates are daemons left running for the next run (``grader check``),
    where ``GRADER_DAEMON`` allows them; a daemon that cannot be used gives a template of
    this process's own."""
    _daemons.set()


def using_daemons() -> bool:
    return _daemons.is_set()


def _new(preload: tuple[str, ...], env: dict[str, str], start_timeout: float) -> Template | Channel:
    if _daemons.is_set():
        from grader.sandbox import daemon

        if daemon.enabled():
            try:
                return daemon.channel(preload, env, start_timeout)
            except TemplateError:
                pass
    return Template(preload, env, start_timeout)


def warm(preload: tuple[str, ...], env: dict[str, str], start_timeout: float) -> None:
    """Start the template for ``preload`` in the background (its imports then overlap with the
    judge's work); a later ``template`` call waits for it. Failures show there, not here."""

    def start() -> None:
        try:
            template(preload, env, start_timeout)
        except TemplateError:
            pass

    threading.Thread(target=start, name="warm-worker-template", daemon=True).start()


def adopt(channels: dict[tuple[str, ...], socket.socket], start_timeout: float) -> None:
    """Fork this judge's workers from templates of another process (its batch's, see
    ``Shared``), through ``channels`` (preload -> socket); one that fails is replaced by a
    template of this judge's own."""
    with _templates_lock:
        for preload, sock in channels.items():
            _templates[preload] = Channel(preload, sock, start_timeout)


class Shared:
    """Templates of this process (a batch) shared with its judge processes: one template per
    kind for the whole batch instead of one per judge process (torch's costs about 200 MiB).

    They start in the background. ``channels`` gives a judge process its sockets at once; a
    request the judge sends before its template is ready waits in the socket until the
    template is up and attached, as a judge waits for a template of its own. A kind that fails
    to start closes its channels, and each judge then falls back to a template of its own."""

    def __init__(
        self, preloads: set[tuple[str, ...]], env: dict[str, str], start_timeout: float
    ) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, ...], Template | None] = {}  # None: it failed to start
        self._pending: dict[tuple[str, ...], list[socket.socket]] = {p: [] for p in preloads}
        for preload in sorted(preloads):
            threading.Thread(
                target=self._start,
                args=(preload, env, start_timeout),
                name=f"shared-template{preload}",
                daemon=True,
            ).start()

    def _start(self, preload: tuple[str, ...], env: dict[str, str], timeout: float) -> None:
        try:
            made: Template | None = Template(preload, env, timeout, shared=True)
            spare(made.pid)  # a child of this process, not an orphan of its workers
        except TemplateError:
            made = None
        with self._lock:
            self._made[preload] = made
            for theirs in self._pending.pop(preload, []):
                self._hand(preload, theirs)

    def _hand(self, preload: tuple[str, ...], theirs: socket.socket) -> None:
        made = self._made.get(preload)
        try:
            if made is not None:
                made.attach(theirs)
        except TemplateError:
            pass
        finally:
            theirs.close()  # without a template: the judge reads EOF and uses its own

    def channels(self) -> dict[tuple[str, ...], socket.socket]:
        """One socket per kind for a new judge process (``adopt`` there)."""
        out: dict[tuple[str, ...], socket.socket] = {}
        with self._lock:
            for preload in sorted({*self._made, *self._pending}):
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                out[preload] = mine
                if preload in self._made:
                    self._hand(preload, theirs)
                else:
                    self._pending[preload].append(theirs)
        return out

    def close(self) -> None:
        with self._lock:
            for made in self._made.values():
                if made is not None:
                    made.kill()
            for pending in self._pending.values():
                for theirs in pending:
                    theirs.close()
            self._made.clear()
            self._pending.clear()


_spared: set[int] = set()  # children of this process that are neither workers nor orphans
_spared_lock = threading.Lock()  # not _templates_lock: a daemon starts while that is held


def spare(pid: int) -> None:
    """Note a child of this process that is no worker and no orphan: a batch's shared template
    (``Shared``), or a daemon it started (``grader.sandbox.daemon``, ``grader.resident``),
    which outlives it. ``process.kill_orphans`` must not kill it."""
    with _spared_lock:
        _spared.add(pid)


def template_pids() -> set[int]:
    """The templates and daemons of this process (children that are no workers' orphans)."""
    with _templates_lock:
        pids = {t.pid for t in _templates.values() if t.pid > 0}
    with _spared_lock:
        return pids | _spared


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


# -- the template process ------------------------------------------------------------------
_ROOT = str(Path(__file__).resolve().parent.parent.parent)  # the folder holding the package
BOOTSTRAP = (
    f"import sys; sys.path.append({_ROOT!r}); from grader.sandbox.template import serve; serve()"
)


def _preimport(preload: list[str]) -> None:
    import numpy  # noqa: F401
    import numpy.linalg  # noqa: F401
    import numpy.random  # noqa: F401

    import grader.worker.main  # noqa: F401  (the worker's own modules)

    if "torch" in preload:
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401  (imported on the first optimizer step otherwise)
        import torch.nn  # noqa: F401
        import torch.optim  # noqa: F401
        import torch.utils.data  # noqa: F401


def child_wakeups() -> int:
    """A descriptor that becomes readable when a child of this process ends (SIGCHLD through
    the signal wake-up fd), for a ``select`` loop; ``drain`` it when it is."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return wake_r


def drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def reaped() -> Iterator[tuple[int, int]]:
    """``(pid, exit code)`` of each child of this process that has ended, without waiting."""
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, os.waitstatus_to_exitcode(wait_status)


def _reap(workers: dict[int, tuple[int, socket.socket]]) -> None:
    """Write each ended worker's exit status into its status pipe (orphans: just reaped)."""
    for pid, code in reaped():
        worker = workers.pop(pid, None)
        if worker is not None:
            try:
                os.write(worker[0], _STATUS.pack(code))
            except OSError:
                pass
            os.close(worker[0])


def _close_all_but(keep: set[int]) -> None:
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


TITLE_ROOM = 1024  # bytes of padding in the template's command line, for its workers' titles


def _retitle(words: list[str]) -> None:
    """Make ``/proc/PID/cmdline`` (what ps and pgrep show) of this forked worker read ``words``,
    as a fresh worker's names its module: written over the command line it inherited from the
    template (padded for it), NUL-filled to the end."""
    import ctypes

    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
    except (OSError, IndexError, ValueError):
        return
    room = end - start
    data = b"\0".join(w.encode("utf-8", "replace") for w in words)[: room - 1]
    ctypes.memmove(start, data + b"\0" * (room - len(data)), room)


def _child(cfg: dict[str, Any], fds: list[int], template_pid: int) -> None:
    """In the forked worker: become a fresh-looking process, then run the worker."""
    status_code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        req, rep, out, _status, *extra = fds
        os.dup2(out, 1)
        os.dup2(out, 2)
        _close_all_but({req, rep, *extra})
        import numpy as np

        np.random.seed()  # a fresh process seeds the global generator from the OS, so does this
        _retitle(["grader-worker", cfg.get("module_name", ""), cfg.get("module_path", "")])
        from grader.worker.main import run

        cfg.update(req_fd=req, rep_fd=rep, judge_pid=template_pid)
        if extra:
            cfg["arena_fd"] = extra[0]
        run(cfg)
        status_code = 0
    finally:
        os._exit(status_code)


def _kill_strays(workers: dict[int, tuple[int, socket.socket]]) -> None:
    """As a subreaper: kill every child that is not a worker this template forked (an orphan a
    worker left, re-parented here); ``_reap`` then collects it."""
    for pid in quiesce.children(os.getpid()):
        if pid not in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def serve() -> None:
    """The template's main loop: fork a worker per request, reap, report exit statuses.

    It serves the judge that started it and every judge given a channel (``attach``, sent by
    that judge on its own socket only), and ends when the last channel closes; the workers of
    a channel that closes (its judge is gone) are killed. A template that serves other judges
    (``GRADER_TEMPLATE_SHARED``) is the subreaper of its workers' orphans and kills each within
    ``STRAY_POLL_S``: they are no judge's children there. A daemon (``grader.sandbox.daemon``,
    ``GRADER_TEMPLATE_LISTEN``) has no judge of its own: judges of the same user connect to
    its socket, and it ends after ``daemon.IDLE_S`` without any."""
    listen_path = os.environ.pop(LISTEN_ENV, "")
    shared = listen_path != "" or os.environ.pop("GRADER_TEMPLATE_SHARED", "") == "1"
    preload = json.loads(sys.argv[1])
    from grader.sandbox import layers

    if listen_path:
        from grader.sandbox import daemon

        listener, owner = daemon.Listener(Path(listen_path)), None
    else:
        layers.die_with_parent(int(os.environ.pop("GRADER_JUDGE_PID")))  # the judge's thread
        listener, owner = None, socket.socket(fileno=int(os.environ.pop("GRADER_TEMPLATE_FD")))
    if shared:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _preimport(preload)
    # what the imports made is never collected here, and a forked worker's collector should
    # not walk it either: every page it writes a mark into would become the worker's own copy
    gc.collect()
    gc.freeze()
    wake_r = child_wakeups()
    workers: dict[int, tuple[int, socket.socket]] = {}  # pid -> its status pipe, its channel
    if owner is not None:
        owner.send(b"ready")
    me = os.getpid()
    channels = [owner] if owner is not None else []
    listening = [listener.sock] if listener is not None else []
    last_seen = time.monotonic()
    while channels or listener is not None:
        poll = (STRAY_POLL_S if workers else IDLE_POLL_S) if shared else None
        ready, _, _ = select.select([*channels, wake_r, *listening], [], [], poll)
        if shared:
            _kill_strays(workers)
        if wake_r in ready:
            drain(wake_r)
            _reap(workers)
        if listener is not None:
            if listener.sock in ready and (joined := listener.accept()) is not None:
                channels.append(joined)
            if channels or workers:
                last_seen = time.monotonic()
            elif listener.finished(last_seen):
                break
        for sock in [c for c in channels if c in ready]:
            try:
                message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 8)
            except OSError:
                message, fds = b"", []
            if not message:  # that judge closed its end: its workers go too
                channels.remove(sock)
                for pid in [p for p, (_fd, by) in workers.items() if by is sock]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)  # reaped (and reported) as any worker
                sock.close()
                continue
            if message == b"attach" and sock is owner and len(fds) == 1:
                channels.append(socket.socket(fileno=fds[0]))
                continue
            if not 4 <= len(fds) <= 5:
                for fd in fds:
                    os.close(fd)
                sock.send(json.dumps({"pid": -1}).encode())
                continue
            cfg = json.loads(message)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                for channel in [*channels, *listening]:
                    channel.close()
                _child(cfg, fds, me)
            for fd in (*fds[:3], *fds[4:]):
                os.close(fd)
            workers[pid] = (fds[3], sock)
            sock.send(json.dumps({"pid": pid}).encode())
            _reap(workers)  # a child that ended at once
    os._exit(0)

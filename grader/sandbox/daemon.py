"""``grader check``'s worker templates as daemons: left running between a student's checks.

A student runs ``grader check`` every few minutes. Each run used to start a worker template
(``grader.sandbox.template``): an interpreter importing numpy, and for some topics torch,
which alone costs seconds here. A daemon is the same template process, started by the first
check and left running; the next checks connect to it and fork their workers at once.

- One daemon per user, interpreter, pre-import set and version of the kit and of numpy/torch
  (a hash of them names its socket), so an edited or upgraded kit never forks stale code.
- Its socket lies in ``$XDG_RUNTIME_DIR/grader-<uid>`` (else the temporary folder), a folder
  only its user can enter; the daemon also refuses a peer of another uid (``SO_PEERCRED``).
- It never runs student code and never answers a call: each request forks a worker that goes
  exactly the way any forked worker goes (every isolation layer applied in the child).
- It is the subreaper of its workers' orphans and kills them; the workers of a check that
  ends, or is killed, are killed when its connection closes.
- It ends after ``IDLE_S`` without a connection or a worker, or when its socket is removed or
  replaced; ``GRADER_DAEMON=off`` keeps ``grader check`` from using one at all.

Only ``grader check`` (a student's own machine, their own code) uses daemons; ``grader grade``
starts templates of its own, which die with the batch.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

from grader.sandbox import template

IDLE_S = 600.0  # a daemon without a connection or a worker for this long ends
IDLE_ENV = "GRADER_DAEMON_IDLE_S"  # how the starting judge tells the daemon its IDLE_S
ENV = "GRADER_DAEMON"  # "off": no daemon (every check starts its own template)
_PEERCRED = struct.Struct("3i")  # pid, uid, gid
_GRADER = Path(__file__).resolve().parent.parent  # the package


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no") and template.available()


def folder() -> Path:
    """The user's own folder for daemon sockets (made 0700; refused when anyone else owns it
    or may enter it)."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    path = base / f"grader-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise template.TemplateError(f"no folder for the daemon's socket: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise template.TemplateError(f"{path} is not a private folder of this user")
    return path


def _stamp(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return f"{path}:-"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def key(preload: tuple[str, ...], env: dict[str, str], libraries: tuple[str, ...] = ()) -> str:
    """What a daemon must match to be used: interpreter, kit, numpy and the pre-imports (or
    ``libraries``) as installed, and the workers' environment."""
    parts = [sys.executable, sys.version, repr(preload), repr(sorted(env.items()))]
    parts += sorted(_stamp(p) for p in _GRADER.rglob("*.py"))
    for name in libraries or ("numpy", *preload):
        spec = find_spec(name)
        parts.append(_stamp(Path(spec.origin)) if spec and spec.origin else f"{name}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


SUN_PATH = 107  # bytes a Unix socket's path may have (and its NUL)


def socket_path(
    preload: tuple[str, ...], env: dict[str, str], libraries: tuple[str, ...] = ()
) -> Path:
    path = folder() / f"t-{key(preload, env, libraries)}.sock"
    if len(os.fsencode(path)) + len(f"..{2**22}") > SUN_PATH:  # as bound: .NAME.PID
        raise template.TemplateError(f"{path} is too long for a socket's path")
    return path


def channel(preload: tuple[str, ...], env: dict[str, str], timeout: float) -> template.Channel:
    """A connection to the daemon for ``preload``, started when there is none (its pre-imports
    then run while this judge goes on: the first request waits in the socket for them)."""
    path = socket_path(preload, env)
    found = channel_if_running(path, preload, timeout)
    if found is not None:
        return found
    started = _start(path, preload, env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and started.poll() is None:
        time.sleep(0.005)
        if (found := channel_if_running(path, preload, timeout)) is not None:
            return found
    raise template.TemplateError("the template daemon did not start")


def channel_if_running(
    path: Path, preload: tuple[str, ...] = (), timeout: float = template.START_TIMEOUT_S
) -> template.Channel | None:
    """A connection to the daemon listening at ``path``, or None when none does."""
    found = connect(path)
    return None if found is None else template.Channel(preload, found[0], timeout, pid=found[1])


def connect(path: Path) -> tuple[socket.socket, int] | None:
    """A socket connected to the daemon at ``path`` and the daemon's pid (None when nothing
    listens there); refused when the daemon is another user's."""
    sock = _connect(path)
    if sock is None:
        return None
    pid, uid = _peer(sock)
    if uid != os.getuid():
        sock.close()
        raise template.TemplateError("the daemon's socket belongs to another user")
    return sock, pid


def _peer(sock: socket.socket) -> tuple[int, int]:
    """The pid and uid of the process at the other end of ``sock`` (``SO_PEERCRED``)."""
    pid, uid, _gid = _PEERCRED.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    )
    return pid, uid


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _start(path: Path, preload: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen:
    import json

    command = [
        sys.executable,
        *template.PYTHON_FLAGS,
        "-c",
        template.BOOTSTRAP,
        json.dumps(list(preload)) + " " * template.TITLE_ROOM,
    ]
    return start(command, path, env)


def start(command: list[str], path: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start the daemon ``command`` to listen at ``path`` (``Listener``), with ``env``: out of
    this process's session, so that a Ctrl-C of the check spares it, and spared by
    ``process.kill_orphans`` (it outlives this process)."""
    started = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, template.LISTEN_ENV: str(path), IDLE_ENV: str(IDLE_S)},
        cwd="/",
        start_new_session=True,
    )
    template.spare(started.pid)
    return started


# -- in the daemon -------------------------------------------------------------------------
class Listener:
    """The daemon's listening socket at ``path``, bound beside it and renamed into place (a
    daemon that lost a race to start simply idles out)."""

    def __init__(self, path: Path) -> None:
        """``path``: the socket; ``IDLE_ENV`` (read once, as ``start`` set it): the idle limit."""
        self.path = path
        self.idle_s = float(os.environ.pop(IDLE_ENV, "") or IDLE_S)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        beside = path.with_name(f".{path.name}.{os.getpid()}")
        old = os.umask(0o077)
        try:
            self.sock.bind(str(beside))
        finally:
            os.umask(old)
        self.sock.listen(64)
        self.inode = beside.stat().st_ino
        os.replace(beside, path)

    def accept(self) -> socket.socket | None:
        """A new judge's connection, or None when its peer is not this daemon's user."""
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return None
        if _peer(conn)[1] != os.getuid():
            conn.close()
            return None
        return conn

    def finished(self, last_seen: float) -> bool:
        """Whether an idle daemon should end: idle long enough, or its socket no longer its
        own (removed, or replaced by a newer daemon's); it then removes a socket still its own."""
        try:
            ours = self.path.stat().st_ino == self.inode
        except OSError:
            ours = False
        if ours and time.monotonic() - last_seen < self.idle_s:
            return False
        if ours:
            self.path.unlink(missing_ok=True)
        return True

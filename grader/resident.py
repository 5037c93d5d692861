"""``grader check`` from a resident judge: the judge's imports done once, not on every check.

A check's own work takes a few tenths of a second; so do the judge's imports (numpy, pydantic,
yaml, rich, the registry and the checks). The first ``grader check`` starts a resident judge in
the background (and runs the check itself, as before); later checks hand their command line,
folder, environment and terminal (the three standard descriptors, passed over the socket) to
it, and it forks a child that runs the check exactly as ``grader.cli.main`` would, writing to
the student's terminal, while the client waits for the exit status and forwards Ctrl-C.

Like the worker-template daemons (``grader.sandbox.daemon``, whose socket folder, naming and
idle rules it shares): one per user, interpreter and version of the kit and its libraries;
only its own user may connect; it ends after ``daemon.IDLE_S`` without a check, or when its
socket goes; ``GRADER_DAEMON=off`` turns it off. A check whose client goes away is stopped
(SIGTERM, which the command handles as Ctrl-C). Nothing of a check outlives it in the resident
judge: each runs in a child forked from a process that has only imported modules and built
the registry's topics from them (kit code alone); it reads the course, its config and the
reference solutions afresh, as a fresh process does.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

from grader.sandbox import daemon, template

KIND = ("judge",)  # names the resident judge's socket beside the templates'
LIBRARIES = ("numpy", "pydantic", "yaml", "rich")  # their versions are part of its name
MAX_REQUEST = 1 << 20  # bytes of one request (its command line and environment)
PREIMPORTS = (  # what every check imports; nothing here starts a thread or opens the terminal
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "yaml",
    "pydantic",
    "rich.console",
    "rich.table",
    "rich.text",
    "grader.cli",
    "grader.config",
    "grader.pipeline",
    "grader.layouts.select",
    "grader.reports.student_view",
    "grader.reports.terminal",
    "rich.live",
    "rich.progress",
    "email.parser",  # importlib.metadata's, for the libraries' versions in the answers' key
    "statistics",
)


# -- the client (grader.entry) ---------------------------------------------------------------
def run(argv: list[str]) -> int | None:
    """Run the check ``argv`` in the resident judge and return its exit status; None when
    there is none to run it (one is then started for the next check)."""
    try:
        path = daemon.socket_path(KIND, {}, LIBRARIES)
        found = daemon.connect(path)
    except template.TemplateError:
        return None
    if found is None:
        _start(path)
        return None
    sock, _pid = found
    request = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "encodings": [
            getattr(s, "encoding", None) or "utf-8" for s in (sys.stdin, sys.stdout, sys.stderr)
        ],
    }
    try:
        socket.send_fds(sock, [json.dumps(request).encode()], [0, 1, 2])
        reply = sock.recv(64)
    except OSError:
        sock.close()
        return None
    if not reply:  # it went away before it took the check
        sock.close()
        return None
    child = int(json.loads(reply)["pid"])
    forward = {s: signal.signal(s, lambda n, _f: _send(child, n)) for s in _FORWARDED}
    try:
        while True:
            try:
                data = sock.recv(64)
                break
            except InterruptedError:
                continue
    finally:
        for number, old in forward.items():
            signal.signal(number, old)
        sock.close()
    if not data:
        sys.stderr.write("grader: the resident judge ended during the check; run it again\n")
        return 1
    code = int(json.loads(data)["exit"])
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says


_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _send(pid: int, number: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM if number == signal.SIGHUP else number)
    except ProcessLookupError:
        pass


def _start(path: Path) -> None:
    package_parent = str(Path(__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {package_parent!r}); "
        "from grader.resident import serve; serve()"
    )
    try:
        daemon.start([sys.executable, "-c", code], path, dict(os.environ))
    except OSError:
        pass


# -- the resident judge ----------------------------------------------------------------------
def serve() -> None:
    """Fork a child per check, send each client its child's pid and then its exit status;
    stop the check of a client that goes away."""
    import importlib

    listener = daemon.Listener(Path(os.environ.pop(template.LISTEN_ENV)))
    for name in PREIMPORTS:
        importlib.import_module(name)
    _load_topics()
    wake_r = template.child_wakeups()
    checks: dict[int, socket.socket] = {}  # child -> its client
    last_seen = time.monotonic()
    while True:
        waiting = [listener.sock, wake_r, *checks.values()]
        ready, _, _ = select.select(waiting, [], [], template.IDLE_POLL_S)
        if wake_r in ready:
            template.drain(wake_r)
        _finish(checks)
        for pid, client in list(checks.items()):
            if client in ready:  # a client only waits: readable means it went away
                _send(pid, signal.SIGTERM)
        if listener.sock in ready and (client := listener.accept()) is not None:
            _take(client, listener, checks)
        if checks:
            last_seen = time.monotonic()
        elif listener.finished(last_seen):
            os._exit(0)


def _load_topics() -> None:
    """Every topic module and its checks, as the registry builds them (kit code only: the
    daemon's name covers the kit's sources, and nothing there reads the environment or the
    working folder). A topic that fails to load is left to fail in the check that uses it."""
    from grader import registry

    for name in registry.available():
        try:
            registry.topic(name)
        except Exception:  # noqa: BLE001 -- the check's own load says what is wrong
            pass


def _finish(checks: dict[int, socket.socket]) -> None:
    """Tell each client whose check ended its exit status."""
    for pid, code in template.reaped():
        client = checks.pop(pid, None)
        if client is not None:
            try:
                client.send(json.dumps({"exit": code}).encode())
            except OSError:
                pass
            client.close()


def _take(client: socket.socket, listener: daemon.Listener, checks: dict) -> None:
    try:
        client.settimeout(5.0)
        message, fds, _flags, _addr = socket.recv_fds(client, MAX_REQUEST, 3)
        request = json.loads(message)
        argv, cwd, env = request["argv"], request["cwd"], request["env"]
        encodings = [str(e) for e in request["encodings"]][:3]
    except (OSError, ValueError, KeyError, TypeError):
        client.close()
        return
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        client.close()
        return
    pid = os.fork()
    if pid == 0:
        listener.sock.close()
        client.close()
        for other in checks.values():
            other.close()
        _check(argv, cwd, env, fds, encodings)
    for fd in fds:
        os.close(fd)
    checks[pid] = client
    try:
        client.send(json.dumps({"pid": pid}).encode())
    except OSError:
        _send(pid, signal.SIGTERM)


def _check(
    argv: list[str], cwd: str, env: dict[str, str], fds: list[int], encodings: list[str]
) -> None:
    """In the forked child: become the client's ``grader check`` and run it."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        ins, outs, errs = (encodings + ["utf-8"] * 3)[:3]
        sys.stdin = open(0, encoding=ins, errors="replace", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, encoding=outs, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding=errs, errors="backslashreplace", closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["grader", *argv]
        from grader.cli import main

        template.use_daemons()
        template.warm((), template.scrubbed_env(), template.START_TIMEOUT_S)
        code = main(argv)
    except SystemExit as stop:  # argparse's errors and --help
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 -- shown as a fresh process would show it
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)

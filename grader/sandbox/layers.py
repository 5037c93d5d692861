"""Isolation layers the worker applies to itself before any student code runs.

Always: resource limits (address space, CPU time, file size, open files, processes). When the
worker starts as root on Linux, also: new network, mount, PID, IPC and UTS namespaces (no
network at all, only loopback, which stays down), a procfs that shows only the worker's own
processes, a file system of the allow-list alone (``grader.sandbox.newroot``; where that root
cannot be built, the deny-list layers here: private tmpfs mounts on the folders others may
write to, the course's reference files and the other submissions hidden under empty mounts),
and then a switch to an unprivileged uid/gid of its own (one per worker), not dumpable, with
``no_new_privs``. Each layer that was applied is named in the list that ends up in
results.json as the isolation level.

Standard library only: this module runs in the worker.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import stat
import sys
from collections.abc import Iterable

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

_libc = None


class LayerError(OSError):
    """A layer could not be applied."""


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise LayerError(err, f"{what}: {os.strerror(err)}")


def set_rlimits(limits: dict[str, int]) -> list[str]:
    """Apply soft=hard limits; keys: memory_mb (address space), data_mb (heap and private
    writable mappings: a memory cap that CUDA's address-space reservations do not hit), cpu_s,
    file_size_mb, open_files, processes."""
    table = {
        "memory_mb": (resource.RLIMIT_AS, 1024 * 1024),
        "data_mb": (resource.RLIMIT_DATA, 1024 * 1024),
        "cpu_s": (resource.RLIMIT_CPU, 1),
        "file_size_mb": (resource.RLIMIT_FSIZE, 1024 * 1024),
        "open_files": (resource.RLIMIT_NOFILE, 1),
        "processes": (resource.RLIMIT_NPROC, 1),
    }
    applied = []
    for key, value in limits.items():
        res, unit = table[key]
        try:
            resource.setrlimit(res, (value * unit, value * unit))
        except (ValueError, OSError):  # e.g. RLIMIT_AS on macOS: record what really applies
            continue
        applied.append(key)
    return ["rlimits(" + ",".join(applied) + ")"]


def can_isolate() -> bool:
    """Namespaces and a uid switch need root on Linux."""
    return sys.platform.startswith("linux") and os.geteuid() == 0


def enter_namespaces() -> list[str]:
    """Unshare mount, network, PID, IPC and UTS namespaces (PID takes effect in the next child)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_c().unshare(flags), "unshare")
    _check(_c().mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    return ["netns(no network)", "pidns", "mntns", "ipcns"]


def _mount_tmpfs(path: str, options: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    _check(_c().mount(b"tmpfs", path.encode(), b"tmpfs", flags, options.encode()), f"tmpfs {path}")


def _blocked_ancestor(path: str) -> tuple[str, str] | None:
    """The first ancestor of ``path`` that others cannot traverse, and the child under it."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = "/"
    for part in parts:
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current, part
        current = os.path.join(current, part)
    return None


def reachable_by_others(paths: list[str]) -> bool:
    """True when another uid can reach every existing path (no private folder on the way)."""
    return all(_blocked_ancestor(p) is None for p in paths if os.path.exists(p))


def keep_reachable(paths: list[str]) -> None:
    """Make ``paths`` reachable for the worker uid where a private folder (/root) blocks them.

    The blocking directory is covered by an empty tmpfs (which also hides the rest of it) and only
    the entries on the way to ``paths`` are bind-mounted back into it.
    """
    for _ in range(8):
        blocked: dict[str, set[str]] = {}
        for path in paths:
            if os.path.exists(path):
                hit = _blocked_ancestor(path)
                if hit:
                    blocked.setdefault(hit[0], set()).add(hit[1])
        if not blocked:
            return
        for parent, children in blocked.items():
            fds = {c: os.open(os.path.join(parent, c), os.O_PATH) for c in children}
            _mount_tmpfs(parent, "mode=0755,size=64k")
            for child, fd in fds.items():
                target = os.path.join(parent, child)
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    os.mkdir(target)
                else:
                    open(target, "w").close()
                src = f"/proc/self/fd/{fd}".encode()
                _check(_c().mount(src, target.encode(), None, MS_BIND | MS_REC, None), target)
                os.close(fd)
    raise LayerError(0, "could not make the Python installation reachable")


def hide(paths: list[str], keep: list[str] = ()) -> None:
    """Cover each existing path with an empty, read-only mount; the paths of ``keep`` inside a
    covered folder (the grader's own package inside the course checkout, a virtual environment
    inside it) are bind-mounted back, read-only, and nothing else of it is visible."""
    for path in paths:
        if os.path.isdir(path):
            inside = [p for p in keep if os.path.exists(p) and p.startswith(path.rstrip("/") + "/")]
            fds = {p: os.open(p, os.O_PATH) for p in inside}
            flags = MS_NOSUID | MS_NODEV
            _mount_tmpfs(path, "mode=0555,size=64k", flags | (0 if fds else MS_RDONLY))
            for kept, fd in fds.items():
                if stat.S_ISDIR(os.fstat(fd).st_mode):  # the path itself is covered now
                    os.makedirs(kept, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(kept), exist_ok=True)
                    open(kept, "w").close()
                src, dst = f"/proc/self/fd/{fd}".encode(), kept.encode()
                _check(_c().mount(src, dst, None, MS_BIND | MS_REC, None), f"keep {kept}")
                ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                _check(_c().mount(None, dst, None, ro, None), f"read-only {kept}")
                os.close(fd)
            if fds:  # the cover itself read-only too, once the kept paths are in place
                remount = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                _check(_c().mount(b"tmpfs", path.encode(), b"tmpfs", remount, None), path)
        elif os.path.exists(path):
            _check(_c().mount(b"/dev/null", path.encode(), None, MS_BIND, None), f"hide {path}")


# Folders every user may write to: each a channel between two workers unless it is private.
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/shm", "/dev/mqueue")


def private_tmp(size_mb: int, keep: list[str], extra: Iterable[str] = ()) -> None:
    """Fresh tmpfs on /tmp, /var/tmp, /dev/shm, /run/lock (every folder of ``WORLD_WRITABLE``
    there is; /var/lock is a link to /run/lock) and on the folders of ``extra`` (the others that
    others may write to, found by the judge at start-up); paths of ``keep`` that lived there (a
    Python installation or virtual environment under /tmp) are bind-mounted back, read-only."""
    for tmp in dict.fromkeys((*WORLD_WRITABLE, *extra)):
        if not os.path.isdir(tmp) or os.path.islink(tmp):
            continue
        inside = [p for p in keep if os.path.isdir(p) and p.startswith(tmp.rstrip("/") + "/")]
        fds = {p: os.open(p, os.O_PATH) for p in inside}
        _mount_tmpfs(tmp, f"mode=1777,size={size_mb}m")
        for path, fd in fds.items():
            os.makedirs(path, exist_ok=True)
            src, dst = f"/proc/self/fd/{fd}".encode(), path.encode()
            _check(_c().mount(src, dst, None, MS_BIND | MS_REC, None), f"keep {path}")
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
            _check(_c().mount(None, dst, None, flags, None), f"read-only {path}")
            os.close(fd)


def mount_proc() -> None:
    """A procfs of the worker's own PID namespace: other processes (the judge, other students'
    workers) are not even listed. Run by the namespace's first process, before dropping root."""
    _check(_c().mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "proc")


def drop_privileges(uid: int) -> list[str]:
    """Become ``uid`` (one per worker, so no two workers can signal or trace each other), not
    dumpable, and unable to gain privileges again."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(_c().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")
    _check(_c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    return ["uid(unprivileged, one per worker)", "not dumpable", "no_new_privs"]


def die_with_parent(parent: int | None = None) -> None:
    """SIGKILL this process when its parent (the judge's thread that started it) ends.

    Armed twice in a worker: first thing in the worker process (so a judge killed outright
    takes its workers with it, whatever the isolation), and again in the process that runs
    student code after the uid switch, which clears the setting (in a PID namespace that
    process is the namespace's init: when it dies, everything in the namespace dies).
    ``parent``: the pid the parent had before arming; if it is already gone, exit now."""
    _c().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # the judge died before the guard was armed

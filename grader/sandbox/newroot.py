"""The worker's root file system as an allow-list: a fresh tmpfs holding only what it may see.

Run by the worker as root, inside its own mount namespace, before any student code runs
(``grader.worker.main``). Everything is looked up on the host first (each path's symlinks, and an
``O_PATH`` descriptor for each source, so that nothing mounted on the way hides a source); then an
empty tmpfs is mounted on a staging folder, the allowed paths (``grader.sandbox.allowlist``) are
bind-mounted into it at the same paths (read-only, and every mount below them too), private
empty tmpfs mounts are made for the writable places, the skeleton itself is made read-only, and
``pivot_root`` makes it the root; the old root is detached, so no path leads back to the host.
``/proc`` is left empty here: the PID namespace's first process mounts its own there.

Standard library only: this module runs in the worker.
"""

from __future__ import annotations

import os
import platform
import re
import stat
import sys
from dataclasses import dataclass

from grader.sandbox.layers import (
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    LayerError,
    _c,
    _check,
)

MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
STAGES = ("/tmp", "/mnt")  # where the new root is put together (in this mount namespace only)
DEV_LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
}
SKELETON = ("/proc", "/dev")  # always there (mount points)
MAX_LINKS = 40  # symlinks followed while resolving one path, as the kernel allows


@dataclass(frozen=True)
class Step:
    """One thing put into the new root at ``path`` (a host path, resolved)."""

    path: str
    kind: str  # "dir", "tmpfs", "bind-ro", "bind-dev", "link"
    source: int = -1  # an O_PATH descriptor of the host path, for binds
    is_dir: bool = True
    target: str = ""  # for links: the link's text, as on the host


def resolve(path: str) -> tuple[list[tuple[str, str]], str]:
    """The symlinks met on the way to ``path`` on the host (each ``(where, text)``, ``where``
    itself resolved) and the path it leads to."""
    links: list[tuple[str, str]] = []
    todo = [p for p in os.path.normpath(path).split("/") if p]
    current = "/"
    while todo:
        part = todo.pop(0)
        here = os.path.join(current, part)
        if os.path.islink(here):
            if len(links) >= MAX_LINKS:
                raise LayerError(0, f"too many symlinks on the way to {path}")
            text = os.readlink(here)
            links.append((here, text))
            target = os.path.normpath(os.path.join(current, text))
            todo = [p for p in target.split("/") if p] + todo
            current = "/"
        else:
            current = here
    return links, current


def _covered(path: str, roots: list[str]) -> bool:
    return any(path.startswith(r.rstrip("/") + "/") for r in roots)


def plan(allow: dict[str, list[str]], hide: list[str]) -> list[Step]:
    """The steps that build the new root, parents before children; descriptors are opened."""
    links: dict[str, str] = {}
    read, devices, writable = [], [], []
    for key, bucket in (("read", read), ("devices", devices), ("writable", writable)):
        for path in allow.get(key, []):
            if not os.path.lexists(path) and key != "writable":
                continue
            found, real = resolve(path)
            links.update(found)
            bucket.append(real)
    read = sorted(set(read))
    read = [p for p in read if not _covered(p, read)]  # inside another: seen through it
    writable = [p for p in dict.fromkeys(writable) if p not in read and not _covered(p, read)]
    steps: list[Step] = [Step(p, "dir") for p in SKELETON]
    steps += [Step(p, "tmpfs") for p in writable]
    for kind, paths in (("bind-ro", read), ("bind-dev", devices)):
        for path in paths:
            if not os.path.exists(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            steps.append(Step(path, kind, fd, stat.S_ISDIR(os.fstat(fd).st_mode)))
    links.update({k: v for k, v in DEV_LINKS.items() if k not in links})
    steps += [Step(p, "link", target=t) for p, t in links.items() if not _covered(p, read)]
    # hidden paths that an allowed folder would show (a secret inside the checkout's package)
    for path in hide:
        if _covered(path, read) and not any(p == path or _covered(p, [path]) for p in read):
            if os.path.exists(path):
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                steps.append(Step(path, "cover", fd, stat.S_ISDIR(os.fstat(fd).st_mode)))
    steps.sort(key=lambda s: (s.path.count("/"), s.kind == "cover", s.path))
    return steps


def _remount_read_only(target: str, devices: bool = False) -> None:
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (0 if devices else MS_NODEV)
    _check(_c().mount(None, target.encode(), None, flags, None), f"read-only {target}")


def _unescape(field: bytes) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as octal escapes."""
    raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)
    return raw.decode("utf-8", "surrogateescape")


def _mounts_below(roots: list[str]) -> list[str]:
    """Mount points at or below any of ``roots`` in this namespace (/proc/self/mountinfo, read
    once: about 0.1 ms a read)."""
    found = []
    with open("/proc/self/mountinfo", "rb") as fh:
        for line in fh:
            point = _unescape(line.split()[4])
            if point in roots or _covered(point, roots):
                found.append(point)
    return found


def _make_point(where: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(where, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
        if not os.path.lexists(where):
            os.close(os.open(where, os.O_CREAT | os.O_WRONLY, 0o644))


def _build(stage: str, steps: list[Step], tmpfs_mb: int) -> None:
    read_only: list[str] = []
    null_covers: set[str] = set()  # /dev/null over a hidden file: reads as empty, stays a device
    for step in steps:
        where = stage + step.path
        if step.kind == "dir":
            os.makedirs(where, mode=0o755, exist_ok=True)
        elif step.kind == "tmpfs":
            os.makedirs(where, mode=0o755, exist_ok=True)
            options = f"mode=1777,size={tmpfs_mb}m".encode()
            flags = MS_NOSUID | MS_NODEV
            _check(_c().mount(b"tmpfs", where.encode(), b"tmpfs", flags, options), where)
        elif step.kind == "link":
            os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
            if not os.path.lexists(where):
                os.symlink(step.target, where)
        elif step.kind == "cover":  # an empty read-only folder, or /dev/null, over it
            if step.is_dir:
                options, flags = b"mode=0555,size=4k", MS_NOSUID | MS_NODEV | MS_RDONLY
                _check(_c().mount(b"tmpfs", where.encode(), b"tmpfs", flags, options), where)
            else:
                _check(_c().mount(b"/dev/null", where.encode(), None, MS_BIND, None), where)
                null_covers.add(where)
        else:
            _make_point(where, step.is_dir)
            source = f"/proc/self/fd/{step.source}".encode()
            recursive = MS_REC if step.kind == "bind-ro" else 0
            _check(_c().mount(source, where.encode(), None, MS_BIND | recursive, None), where)
            if step.kind == "bind-ro":
                read_only.append(where)
    for point in _mounts_below(read_only):  # and every mount that came along below (MS_REC)
        _remount_read_only(point, devices=point in null_covers)
    flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV  # the skeleton too: nothing to write
    _check(_c().mount(b"tmpfs", stage.encode(), b"tmpfs", flags, None), "read-only root")


def _pivot(stage: str) -> None:
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise LayerError(0, f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(stage)
    # pivot_root(".", "."): the old root ends up on top of the new one, then detached
    _check(_c().syscall(number, b".", b"."), "pivot_root")
    if _c().umount2(b".", MNT_DETACH) != 0:  # the host's root would show: fail closed
        sys.stderr.write("the worker could not detach the host's root file system\n")
        os._exit(70)
    os.chdir("/")


def enter(allow: dict[str, list[str]], tmpfs_mb: int, hide: list[str] = ()) -> None:
    """Make a root of only ``allow``'s paths this process's root (in its own mount namespace,
    as root). On failure nothing is left mounted and ``LayerError`` says why."""
    stage = next((s for s in STAGES if os.path.isdir(s) and not os.path.islink(s)), None)
    if stage is None:
        raise LayerError(0, "no folder to build the new root in")
    steps = plan(allow, list(hide))
    mounted = False
    try:
        options = b"mode=0755,size=4m"
        _check(_c().mount(b"tmpfs", stage.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), stage)
        mounted = True
        _build(stage, steps, tmpfs_mb)
        _pivot(stage)
        mounted = False
    except OSError as exc:
        if mounted:
            os.chdir("/")
            _c().umount2(stage.encode(), MNT_DETACH)
        if isinstance(exc, LayerError):
            raise
        raise LayerError(exc.errno or 0, str(exc)) from None
    finally:
        for step in steps:
            if step.source >= 0:
                os.close(step.source)

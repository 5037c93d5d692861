"""What a worker's file system holds: the allow-list (judge side, computed once per judge).

With full isolation the worker's root is a fresh, empty tmpfs (``grader.sandbox.newroot``) into
which only these paths of the host are bind-mounted:

- ``read``: read-only, the Python installation (prefixes, stdlib, site-packages), the grader's
  own package, the system's shared libraries (``/usr/lib``, ``/lib*``, the folders the dynamic
  loader is configured to search), ``/etc/ld.so.cache``, ``/etc/localtime``, the CPU topology
  in ``/sys/devices/system/cpu`` (read by BLAS and torch at start-up), and the one student file
  being graded;
- ``devices``: ``/dev/null``, ``zero``, ``full``, ``random``, ``urandom`` (and, for a worker that
  uses a real CUDA device, the ``/dev/nvidia*`` nodes and a read-only ``/sys``);
- ``writable``: private, empty, writable tmpfs mounts at ``/tmp``, ``/var/tmp``, ``/dev/shm``,
  ``/run``, ``/run/lock`` (``/var/lock`` links there) and every other folder of the host that
  others may write to, found by a bounded scan at start-up (each one is a channel between two
  workers unless it is private);

plus a ``/proc`` of the worker's own PID namespace. Nothing else exists: not the rest of the
course checkout, not ``/root`` or ``/home``, not another submission or the output folder.
"""

from __future__ import annotations

import functools
import glob
import os
import site
import stat
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

# Private writable places every worker gets, whatever the host has.
PRIVATE = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/run/lock", "/var/lock")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SYSTEM = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/sys/devices/system/cpu",
)
CUDA = ("/sys",)  # plus /dev/nvidia*: the driver reads PCI topology and its device nodes
SCAN_DEPTH = 3  # folders below / looked at for ones writable by others (/var/tmp, /run/lock)
SCAN_CAP = 20_000  # entries looked at, at most (about 0.1 s)
NOT_SCANNED = ("/proc", "/sys", "/dev")  # pseudo file systems: /dev/shm and /dev/mqueue only


@functools.cache
def python_paths() -> tuple[str, ...]:
    """The Python installation: prefixes, the stdlib and every site-packages folder. Not
    ``sys.path``: it may hold the course checkout (``PYTHONPATH``, an editable install)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    found.update(p for p in sysconfig.get_paths().values() if p)
    found.update(site.getsitepackages())
    return tuple(_existing(found))


@functools.cache
def loader_paths() -> tuple[str, ...]:
    """Folders the dynamic loader is configured to search (``/etc/ld.so.conf`` and its
    ``include`` files): where ``ld.so.cache`` points, e.g. a CUDA toolkit's libraries."""
    found: set[str] = set()
    todo, seen = ["/etc/ld.so.conf"], set()
    while todo:
        conf = todo.pop()
        if conf in seen or len(seen) > 64:
            continue
        seen.add(conf)
        try:
            lines = Path(conf).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include "):
                todo += sorted(glob.glob(line.split(None, 1)[1].strip()))
            elif line.startswith("/"):
                found.add(line)
    return tuple(_existing(found))


@functools.cache
def writable_by_others() -> tuple[str, ...]:
    """Folders of the host that every user may write to (the mode's ``o+w`` bit), found by a
    bounded scan below ``/`` (``SCAN_DEPTH`` levels, ``SCAN_CAP`` entries; not inside one
    found, nor in ``/proc``, ``/sys``, ``/dev`` but for ``/dev/shm`` and ``/dev/mqueue``)."""
    found: list[str] = []
    seen = 0
    level = ["/"]
    for _ in range(SCAN_DEPTH):
        below: list[str] = []
        for folder in level:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen > SCAN_CAP:
                    return tuple(found)
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                if not stat.S_ISDIR(mode):
                    continue
                if mode & stat.S_IWOTH:
                    found.append(entry.path)
                elif entry.path not in NOT_SCANNED:
                    below.append(entry.path)
        level = below
    for path in ("/dev/shm", "/dev/mqueue"):
        try:
            if os.lstat(path).st_mode & stat.S_IWOTH and path not in found:
                found.append(path)
        except OSError:
            pass
    return tuple(found)


def allow_list(module_path: str, grader_dir: str, setup: str = "") -> dict[str, list[str]]:
    """The worker's file system for grading ``module_path``: ``read`` (bind-mounted read-only),
    ``devices`` (device nodes bound as they are), ``writable`` (private empty tmpfs mounts)."""
    read = [*python_paths(), grader_dir, *_existing(SYSTEM), *loader_paths(), module_path]
    devices = list(DEVICES)
    if setup == "cuda":
        read += _existing(CUDA)
        devices += sorted(glob.glob("/dev/nvidia*"))
    writable = [*PRIVATE, *(p for p in writable_by_others() if p not in PRIVATE)]
    return {
        "read": list(dict.fromkeys(read)),
        "devices": _existing(devices),
        "writable": writable,
    }


def _existing(paths: Iterable[str]) -> list[str]:
    return sorted({os.path.abspath(p) for p in paths if os.path.lexists(p)})


def covers(path: str, roots: list[str]) -> bool:
    """Is ``path`` one of ``roots`` or inside one?"""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

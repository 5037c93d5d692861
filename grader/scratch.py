"""Scratch folders that no run leaves behind, killed or not.

A run (``grader grade``, ``grader check``) unpacks zips and writes the copies of the modules its
workers import into a folder of its own, ``BASE/<pid>-<random>``, next to a lock file
``BASE/<pid>-<random>.lock`` that it holds (``flock``) while it lives. The kernel releases the
lock when the process dies, however it dies (SIGKILL included), so every run starts by removing
the folders of runs whose lock is free: a killed run's scratch is gone at the next run, and two
runs at once never remove each other's: a dead run's scratch is removed while its lock is held
(by the run removing it), and a run whose new lock file went that way before it could lock it
makes another. The run removes its own at the end (and on SIGINT or
SIGTERM, which end the run by an exception). ``BASE`` is the output folder's ``.grader-scratch``
for a batch, a private folder of this user under the temporary directory for ``grader check``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCK = ".lock"


def _take(lock: Path) -> int | None:
    """A descriptor holding ``lock`` when no live process holds it (its run is gone), else
    None (held, or not ours to judge: another user's). A missing lock: None too."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _is(fd: int, path: Path) -> bool:
    """Does ``path`` still name the file open as ``fd`` (not removed or replaced meanwhile)?"""
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def tidy(base: Path) -> int:
    """Remove the scratch of every run in ``base`` that is gone; return how many."""
    removed = 0
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if entry.name.endswith(LOCK):
            # the dead run's lock is held while its scratch goes: a run that made this file
            # and has not locked it yet finds it removed, and makes another (``run_folder``)
            fd = _take(entry)
            if fd is None:
                continue
            try:
                if _is(fd, entry):
                    shutil.rmtree(entry.with_name(entry.name[: -len(LOCK)]), ignore_errors=True)
                    entry.unlink(missing_ok=True)
                    removed += 1
            finally:
                os.close(fd)
        elif not os.path.lexists(f"{entry}{LOCK}"):
            # a folder without its lock (made after the lock): an older grader's leftovers
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def run_folder(base: Path) -> Iterator[Path]:
    """This run's scratch folder in ``base`` (created), locked while the run lives; the scratch
    of dead runs is removed first, this one at the end (``base`` too when it is left empty)."""
    base.mkdir(parents=True, exist_ok=True)
    tidy(base)
    while True:
        fd, lock = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=LOCK, dir=base)
        fcntl.flock(fd, fcntl.LOCK_EX)  # the lock first: a folder never stands unlocked
        if _is(fd, Path(lock)):
            break
        # another run's ``tidy`` took the file for a dead run's before it was locked here
        os.close(fd)
    try:
        folder = Path(lock[: -len(LOCK)])
        folder.mkdir(mode=0o700)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        Path(lock).unlink(missing_ok=True)
        os.close(fd)
        with contextlib.suppress(OSError):
            base.rmdir()  # only when empty: another run may be using it


def user_base() -> Path:
    """This user's scratch base under the temporary directory (``grader check``): created
    private, and refused when it is a link or another user's (a shared /tmp is everybody's)."""
    base = Path(tempfile.gettempdir()) / f"grader-scratch-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = base.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{base} is not a folder of this user's: remove it")
    return base

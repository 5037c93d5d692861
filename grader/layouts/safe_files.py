"""Reading inside a student's tree without ever following a link out of it.

A path inside a submission is opened one component at a time, each relative to the descriptor
of its parent (``dir_fd``) with ``O_NOFOLLOW``: a symlinked ``assignments/`` (to the checkout's
``solutions/``, say) or sub-folder is refused, never followed, whichever component it is. The last
component is ``lstat``-ed first and opened only when it is a regular file of bounded size, with
``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the judge) and checked again by
``fstat`` on the descriptor itself (same inode). The judge keeps the bytes it read: the layouts
hand the worker a copy in their scratch folder, never the student's path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from grader.reports.safe_text import name as shown

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
HERE = PurePosixPath()
MISSING = (errno.ENOENT, errno.ENOTDIR)  # a component absent, or a file where a folder is


class Unsafe(Exception):
    """A path of the submission that is not read: a link, a special file, too large; the
    message says which component and why (shown to the student)."""


def what(mode: int) -> str:
    """How a file type is named in a refusal."""
    if stat.S_ISLNK(mode):
        return "a symbolic link (symlinks are not accepted)"
    if stat.S_ISFIFO(mode):
        return "a FIFO (not a regular file)"
    if stat.S_ISSOCK(mode):
        return "a socket (not a regular file)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device (not a regular file)"
    return "not a regular file"


def _lstat_at(parent: int, part: str, rel: PurePosixPath) -> os.stat_result:
    """``part``'s own status in folder ``parent`` (a link is not followed); an absent one is a
    ``FileNotFoundError`` naming ``rel``."""
    try:
        return os.stat(part, dir_fd=parent, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in MISSING:
            raise FileNotFoundError(exc.errno, exc.strerror, str(rel)) from None
        raise


def _step(parent: int, part: str, rel: PurePosixPath) -> int:
    """The descriptor of folder ``part`` in folder ``parent``, never through a link."""
    info = _lstat_at(parent, part, rel)
    if not stat.S_ISDIR(info.st_mode):
        if stat.S_ISREG(info.st_mode):  # a file where a folder is: the path is absent
            raise FileNotFoundError(errno.ENOTDIR, "not a folder", str(rel))
        raise Unsafe(f"{shown(str(rel))} is {what(info.st_mode)}")
    return os.open(part, DIR_FLAGS, dir_fd=parent)


@contextlib.contextmanager
def folder(root: Path, rel: PurePosixPath = HERE) -> Iterator[int]:
    """A descriptor of folder ``root / rel``, every component of ``rel`` opened without
    following links (``root``'s own last component too; what is above it is the instructor's).
    Raises ``FileNotFoundError`` when a component is absent, ``Unsafe`` when one is a link or a
    special file."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for i, part in enumerate(rel.parts):
            inner = _step(fd, part, PurePosixPath(*rel.parts[: i + 1]))
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def read_at(parent: int, part: str, rel: PurePosixPath, limit: int) -> bytes:
    """The bytes of regular file ``part`` in folder ``parent`` (``rel`` names it in messages),
    at most ``limit`` of them (``Unsafe`` beyond)."""
    info = _lstat_at(parent, part, rel)
    if not stat.S_ISREG(info.st_mode):
        raise Unsafe(f"{shown(str(rel))} is {what(info.st_mode)}")
    if info.st_size > limit:
        raise Unsafe(f"{shown(str(rel))} is larger than {limit // 1024} KiB")
    fd = os.open(part, FILE_FLAGS, dir_fd=parent)
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fh.fileno())
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(now.st_mode):
            raise Unsafe(f"{shown(str(rel))} changed while it was read")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise Unsafe(f"{shown(str(rel))} is larger than {limit // 1024} KiB")
    return data


def read(root: Path, rel: PurePosixPath, limit: int) -> bytes:
    """The bytes of regular file ``root / rel``, no component followed through a link."""
    with folder(root, rel.parent) as parent:
        return read_at(parent, rel.name, rel, limit)


def walk(
    root: Path, rel: PurePosixPath, skip: frozenset[str], max_entries: int = 100_000
) -> Iterator[tuple[PurePosixPath, int, os.DirEntry]]:
    """Every entry below folder ``root / rel``: (its path relative to ``root``, its parent's
    descriptor, the entry), folders entered only when they are real folders (never a link)
    and not named in ``skip`` or hidden; at most ``max_entries`` entries are looked at. The
    parent's descriptor is open only until the next entry is asked for."""
    left = [max_entries]

    def inside(fd: int, here: PurePosixPath) -> Iterator[tuple[PurePosixPath, int, os.DirEntry]]:
        with os.scandir(fd) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            left[0] -= 1
            if left[0] < 0:
                return
            path = here / entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name in skip or entry.name.startswith("."):
                    continue
                try:
                    sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # replaced meanwhile (by a link: O_NOFOLLOW refused it)
                try:
                    yield from inside(sub, path)
                finally:
                    os.close(sub)
            else:
                yield path, fd, entry

    with folder(root, rel) as top:
        yield from inside(top, rel)

"""Kit layout: a submission is a folder or .zip holding topic modules (``losses.py``, ...) at its
root or under ``assignments/``. Extra files are never imported. The folder or zip stem is the
student id.

Nothing a submission is made of stops a batch: a zip that is corrupt, truncated, encrypted,
too large, a bomb, or has members that cannot be written, and a path that is a FIFO, a socket,
a device or a symlink, each become a ``Submission`` with ``refused`` set (the reason), graded as
"not submitted" with that reason for every check. Nothing is opened for reading before its
type is known from ``lstat``. ``LayoutError`` is kept for command-line paths that do not exist.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MAX_MODULE_BYTES = 2 * 1024 * 1024
MAX_ZIP_FILES = 500
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed size of a member beyond which it is a zip bomb
MAX_NAME_BYTES = 255  # of one path component (what file systems allow)
MAX_PATH_BYTES = 1024
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class LayoutError(Exception):
    """A path that cannot be graded at all (does not exist, unsupported layout)."""


class Refused(Exception):
    """One submission that cannot be read; the message says why (shown to the student)."""


@dataclass(frozen=True)
class Submission:
    student_id: str
    source: Path
    modules: dict[str, Path]
    layout: str = "kit"
    problems: dict[str, str] = field(default_factory=dict)  # topic -> why its module was refused
    refused: str | None = None  # why the whole submission could not be read
    # topic -> function (or "*": any other) -> (outcome, reason), decided without running code
    preset: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    notes: dict[str, dict[str, str]] = field(default_factory=dict)  # topic -> function -> note
    extra: dict[str, object] = field(default_factory=dict)  # into results.json extra_data
    # topic -> (check, its plan): checks the layout adds to the topic's (CS231n-only ones)
    checks: dict[str, tuple[tuple[Any, Any], ...]] = field(default_factory=dict)


def safe_id(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"
    return cleaned[:100]


def _module_files(folder: Path, topics: tuple[str, ...]) -> tuple[dict[str, Path], dict[str, str]]:
    modules, problems = {}, {}
    for topic in topics:
        for base in (folder, folder / "assignments"):
            path = base / f"{topic}.py"
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
                problems[topic] = f"{path.name} is not a regular file (symlinks are not accepted)"
            elif info.st_size > MAX_MODULE_BYTES:
                problems[topic] = f"{path.name} is larger than {MAX_MODULE_BYTES // 1024} KiB"
            else:
                modules[topic] = path
            break
    return modules, problems


def _member_problem(member: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be extracted (None: it can), checked before reading it."""
    if member.flag_bits & 0x1:
        return "is encrypted"
    if member.compress_type not in ZIP_METHODS:
        return f"uses an unsupported compression method ({member.compress_type})"
    parts = Path(member.filename).parts
    if len(member.filename.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES or any(
        len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts
    ):
        return "has a path that is too long"
    if member.file_size > 1 << 20 and member.file_size > MAX_RATIO * max(1, member.compress_size):
        return f"expands more than {MAX_RATIO} times (a zip bomb?)"
    return None


def _extract(zip_path: Path, dest: Path) -> Path:
    """Extract a zip safely (no absolute paths, no '..', no links, bounded size) into ``dest``;
    raise ``Refused`` when the zip cannot be read."""
    name = zip_path.name
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_FILES:
                raise Refused(f"{name} has more than {MAX_ZIP_FILES} files")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise Refused(f"{name} holds more than {MAX_ZIP_BYTES >> 20} MiB unpacked")
            for member in members:
                path = Path(member.filename)
                if path.is_absolute() or ".." in path.parts or member.is_dir():
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue
                if problem := _member_problem(member):
                    raise Refused(f"{name}: {member.filename!r:.80} {problem}")
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "xb") as sink:
                    shutil.copyfileobj(source, sink)  # CRC and size are checked by zipfile
    except Refused:
        raise
    except zipfile.BadZipFile as exc:
        raise Refused(f"{name} is not a valid zip file ({exc})") from None
    except (zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise Refused(f"{name} could not be unpacked ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise Refused(f"{name} could not be unpacked ({exc.strerror or exc})") from None
    entries = [p for p in dest.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]  # a zip of one folder: grade that folder
    return dest


def _kind(path: Path) -> str:
    """``folder``, ``zip`` or the reason ``path`` is neither, from ``lstat`` (never opened)."""
    try:
        info = path.lstat()
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{path.name} is a symbolic link (not accepted)"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    if stat.S_ISREG(info.st_mode):
        return "zip" if path.suffix == ".zip" else f"{path.name} is not a folder or a .zip file"
    return f"{path.name} is not a regular file (a FIFO, socket or device)"


def submission(path: Path, topics: tuple[str, ...], scratch: Path) -> Submission:
    """One submission from a folder or a zip (unpacked into a folder of its own in
    ``scratch``); a submission that cannot be read comes back with ``refused`` set."""
    path = path.absolute()
    student = safe_id(path.stem if path.suffix == ".zip" else path.name)
    kind = _kind(path)
    try:
        if kind == "zip":
            scratch.mkdir(parents=True, exist_ok=True)
            folder = _extract(path, Path(tempfile.mkdtemp(prefix=f"{student}-", dir=scratch)))
        elif kind == "folder":
            folder = path
        else:
            raise Refused(kind)
        modules, problems = _module_files(folder, topics)
    except Refused as exc:
        return Submission(student, path, {}, "kit", {}, refused=str(exc))
    except OSError as exc:
        return Submission(student, path, {}, "kit", {}, refused=f"unreadable: {exc.strerror}")
    return Submission(student, path, modules, "kit", problems)


def _looks_like_submission(folder: Path, topics: tuple[str, ...]) -> bool:
    return any(
        os.path.lexists(b / f"{t}.py") for b in (folder, folder / "assignments") for t in topics
    )


def _children(folder: Path) -> list[Path]:
    """The entries of a folder of submissions: sub-folders and everything named ``*.zip``
    (whatever its type: a FIFO named x.zip is refused as a submission, not skipped)."""
    found = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.suffix == ".zip" or child.is_symlink() or _kind(child) == "folder":
            found.append(child)
    return found


def discover(paths: list[Path], topics: tuple[str, ...], scratch: Path) -> list[Submission]:
    """Expand CLI paths: each is a submission or a folder of submissions (sub-folders or zips)."""
    found: list[Submission] = []
    for path in paths:
        if not os.path.lexists(path):
            raise LayoutError(f"{path} does not exist")
        is_batch = _kind(path) == "folder" and not _looks_like_submission(path, topics)
        children = _children(path) if is_batch else []
        if children:  # a folder of submissions
            found.extend(submission(child, topics, scratch) for child in children)
        else:  # a submission (one without any module of these topics gets "not submitted")
            found.append(submission(path, topics, scratch))
    return unique_ids(found)


def unique_ids(found: list[Submission]) -> list[Submission]:
    """Two submissions with the same id (alice/ and alice.zip) keep both: alice, alice-2."""
    seen: dict[str, int] = {}
    unique = []
    for sub in found:  # two submissions with the same id (alice/ and alice.zip) keep both
        n = seen.get(sub.student_id, 0)
        seen[sub.student_id] = n + 1
        if n:
            sub = replace(sub, student_id=f"{sub.student_id}-{n + 1}")
        unique.append(sub)
    return unique

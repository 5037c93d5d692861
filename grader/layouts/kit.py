"""Kit layout: a submission is a folder or .zip holding topic modules (``losses.py``, ...) at its
root or under ``assignments/``. Extra files are never imported. The folder or zip stem is the
student id.

Nothing a submission is made of stops a batch: a zip that is corrupt, truncated, encrypted,
too large, a bomb, or has members that cannot be written, and a path that is a FIFO, a socket,
a device or a symlink, each become a ``Submission`` with ``refused`` set (the reason), graded as
"not submitted" with that reason for every check. Nothing is opened for reading before its
type is known from ``lstat``. ``LayoutError`` is kept for command-line paths that do not exist.

Inside a submission no link is ever followed (``safe_files``: every component of a module's
path is opened relative to its parent with ``O_NOFOLLOW``), and the workers import the judge's
own copy of the bytes it read, written to the submission's scratch folder (one per submission,
zip or folder). Ids are unique: a collision gets ``id~<hash of its path>`` (``unique_ids``).
File names in messages are escaped (``grader.reports.safe_text``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from grader.layouts import safe_files
from grader.reports.safe_text import name as shown

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
    """A folder name made of ``[A-Za-z0-9._-]`` only (never starting with ``.`` or ``-``, never
    ``~``: ``unique_ids`` keeps that for collisions), at most 100 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip("._-").rstrip("._")
    return (cleaned or "submission")[:100]


def _module_files(
    folder: Path, topics: tuple[str, ...], copies: Path, skipped: dict[str, str] | None = None
) -> tuple[dict[str, Path], dict[str, str]]:
    """Each topic's module, at the root of ``folder`` or under ``assignments/``, read by the
    judge without following any link (``safe_files``) and written to ``copies`` (the worker
    imports these bytes, never the student's path); a module that cannot be read is a problem
    of its topic. ``skipped`` (member -> why) holds what an unpacked zip left out."""
    modules, problems = {}, {}
    skipped = skipped or {}
    for topic in topics:
        for base in (PurePosixPath(), PurePosixPath("assignments")):
            rel = base / f"{topic}.py"
            try:
                data = safe_files.read(folder, rel, MAX_MODULE_BYTES)
            except FileNotFoundError:
                if why := skipped.get(str(rel)):
                    problems[topic] = f"{rel} {why}"
                    break
                continue
            except safe_files.Unsafe as exc:
                problems[topic] = str(exc)
                break
            except OSError as exc:
                problems[topic] = f"{rel} cannot be read ({exc.strerror})"
                break
            target = copies / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            modules[topic] = target
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


def _skip_reason(member: zipfile.ZipInfo) -> str | None:
    """Why a member is left out (not extracted, the rest of the zip is): a path outside the
    zip, or a link (None: it is extracted)."""
    path = PurePosixPath(member.filename)
    if path.is_absolute() or ".." in path.parts or member.filename.startswith("\\"):
        return "points outside the zip (absolute or '..'): not unpacked"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "is a symbolic link in the zip (not accepted)"
    return None


def _extract(zip_path: Path, dest: Path, skipped: dict[str, str] | None = None) -> Path:
    """Extract a zip safely (no absolute paths, no '..', no links, bounded size) into ``dest``
    and return the folder to grade; raise ``Refused`` when the zip cannot be read. Members left
    out are recorded in ``skipped`` (path relative to the returned folder -> why)."""
    name = shown(zip_path.name)
    left_out: dict[str, str] = {}
    try:
        dest.mkdir(parents=True, exist_ok=True)  # also when no member is unpacked
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_FILES:
                raise Refused(f"{name} has more than {MAX_ZIP_FILES} files")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise Refused(f"{name} holds more than {MAX_ZIP_BYTES >> 20} MiB unpacked")
            for member in members:
                path = Path(member.filename)
                if member.is_dir():
                    continue
                if why := _skip_reason(member):
                    left_out[member.filename] = why
                    continue
                if problem := _member_problem(member):
                    raise Refused(f"{name}: '{shown(member.filename, 80)}' {problem}")
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "xb") as sink:
                    shutil.copyfileobj(source, sink)  # CRC and size are checked by zipfile
    except Refused:
        raise
    except zipfile.BadZipFile as exc:
        raise Refused(f"{name} is not a valid zip file ({shown(str(exc), 200)})") from None
    except (zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        why = shown(f"{type(exc).__name__}: {exc}", 200)
        raise Refused(f"{name} could not be unpacked ({why})") from None
    except OSError as exc:
        raise Refused(f"{name} could not be unpacked ({shown(exc.strerror or str(exc))})") from None
    entries = [p for p in dest.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else None
    if skipped is not None:
        for member, why in left_out.items():
            parts = PurePosixPath(member).parts
            if top is not None and parts[:1] == (top.name,):
                parts = parts[1:]  # relative to the one folder graded
            skipped[str(PurePosixPath(*parts))] = why
    return top or dest  # a zip of one folder: grade that folder


def _kind(path: Path) -> str:
    """``folder``, ``zip`` or the reason ``path`` is neither, from ``lstat`` (never opened)."""
    name = shown(path.name)
    try:
        info = path.lstat()
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{name} is a symbolic link (not accepted)"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    if stat.S_ISREG(info.st_mode):
        return "zip" if path.suffix == ".zip" else f"{name} is not a folder or a .zip file"
    return f"{name} is not a regular file (a FIFO, socket or device)"


def own_scratch(scratch: Path, student: str) -> Path:
    """A new folder of this submission's own in ``scratch`` (two zips whose names give one id
    never share one)."""
    scratch.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{student}-", dir=scratch))


def submission(path: Path, topics: tuple[str, ...], scratch: Path) -> Submission:
    """One submission from a folder or a zip (unpacked into a folder of its own in
    ``scratch``, where the copies of its modules that the workers import are written too); a
    submission that cannot be read comes back with ``refused`` set."""
    path = path.absolute()
    student = safe_id(path.stem if path.suffix == ".zip" else path.name)
    kind = _kind(path)
    skipped: dict[str, str] = {}
    try:
        if kind == "zip":
            work = own_scratch(scratch, student)
            folder = _extract(path, work / "unpacked", skipped)
        elif kind == "folder":
            work, folder = own_scratch(scratch, student), path
        else:
            raise Refused(kind)
        modules, problems = _module_files(folder, topics, work / "modules", skipped)
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


def collision_id(student: str, source: Path, taken: set[str]) -> str:
    """The id of a submission whose id is taken: ``id~`` and a hash of its source path. No
    real id holds ``~`` (``safe_id``), so it cannot clash with another student's, and it is the
    same in every run of the same batch."""
    digest = hashlib.sha256(os.fsencode(source)).hexdigest()
    for size in range(8, len(digest) + 1, 4):  # longer only if 8 digits already clash
        candidate = f"{student}~{digest[:size]}"
        if candidate.casefold() not in taken:
            return candidate
    raise AssertionError(f"no free id for {source}")  # 2**-256: two identical paths


def unique_ids(found: list[Submission]) -> list[Submission]:
    """Two submissions with the same id (alice/ and alice.zip; ids that differ only in case,
    which one folder on a case-insensitive disk cannot hold apart) keep both: the first keeps
    it, the others get ``collision_id``; the gradebook's ``source`` column maps each back."""
    taken: set[str] = set()
    unique = []
    for sub in found:
        if sub.student_id.casefold() in taken:
            sub = replace(sub, student_id=collision_id(sub.student_id, sub.source, taken))
        taken.add(sub.student_id.casefold())
        unique.append(sub)
    return unique

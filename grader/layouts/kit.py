"""Kit layout: a submission is a folder or .zip holding topic modules (``losses.py``, ...) at its
root or under ``assignments/``. Extra files are never imported. The folder or zip stem is the
student id."""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_MODULE_BYTES = 2 * 1024 * 1024
MAX_ZIP_FILES = 500
MAX_ZIP_BYTES = 50 * 1024 * 1024


class LayoutError(Exception):
    """A path that cannot be graded at all (does not exist, unsupported layout)."""


@dataclass(frozen=True)
class Submission:
    student_id: str
    source: Path
    modules: dict[str, Path]
    layout: str = "kit"
    problems: dict[str, str] = field(default_factory=dict)  # topic -> why its module was refused


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


def _extract(zip_path: Path, dest: Path) -> Path:
    """Extract a zip safely (no absolute paths, no '..', no links, bounded size)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_FILES:
                raise LayoutError(f"{zip_path.name}: more than {MAX_ZIP_FILES} files")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise LayoutError(f"{zip_path.name}: more than {MAX_ZIP_BYTES >> 20} MiB unpacked")
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts or member.is_dir():
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
    except zipfile.BadZipFile:
        raise LayoutError(f"{zip_path.name} is not a valid zip file") from None
    entries = [p for p in dest.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]  # a zip of one folder: grade that folder
    return dest


def _looks_like_submission(folder: Path, topics: tuple[str, ...]) -> bool:
    return any(
        (b / f"{t}.py").exists() or (b / f"{t}.py").is_symlink()
        for b in (folder, folder / "assignments")
        for t in topics
    )


def submission(path: Path, topics: tuple[str, ...], scratch: Path) -> Submission:
    """One submission from a folder or a zip."""
    path = path.resolve()
    student = safe_id(path.stem if path.suffix == ".zip" else path.name)
    folder = _extract(path, scratch / student) if path.suffix == ".zip" else path
    modules, problems = _module_files(folder, topics)
    return Submission(student, path, modules, "kit", problems)


def discover(paths: list[Path], topics: tuple[str, ...], scratch: Path) -> list[Submission]:
    """Expand CLI paths: each is a submission or a folder of submissions (sub-folders or zips)."""
    found: list[Submission] = []
    for path in paths:
        if not path.exists():
            raise LayoutError(f"{path} does not exist")
        if path.is_file() and path.suffix != ".zip":
            raise LayoutError(f"{path} is neither a folder nor a .zip file")
        if path.suffix == ".zip" or _looks_like_submission(path, topics):
            found.append(submission(path, topics, scratch))
            continue
        children = sorted(
            p
            for p in path.iterdir()
            if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".zip")
        )
        found.extend(submission(child, topics, scratch) for child in children)
    seen: dict[str, int] = {}
    unique = []
    for sub in found:  # two submissions with the same id (alice/ and alice.zip) keep both
        n = seen.get(sub.student_id, 0)
        seen[sub.student_id] = n + 1
        if n:
            sub = Submission(
                f"{sub.student_id}-{n + 1}", sub.source, sub.modules, sub.layout, sub.problems
            )
        unique.append(sub)
    return unique

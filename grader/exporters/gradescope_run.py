"""The runner that the exported ``run_autograder`` calls inside Gradescope's image.

``python -m grader.exporters.gradescope_run --root /autograder [--topic T ...]`` grades
``ROOT/submission`` with ``grader grade`` (a child process, so a crash of the grader itself
cannot take the result with it) against ``ROOT/source/autograder.yml`` and the course secret
shipped next to it, and writes ``ROOT/results/results.json``. Whatever goes wrong (no course
secret, the grader stops, the upload holds no submission or several), it writes a schema-valid
result with score 0 and the reason instead: a Gradescope run never ends without results.

The student is named from ``ROOT/submission_metadata.json`` (Gradescope's: the submitters'
emails and ids, the submission id), so feedback.md and the journal say whose upload it is:
``student_id`` picks a stable id and ``grade`` grades the upload under that name (it renames
the upload into ``ROOT/.grader-stage/<id>`` for the run and back after it, so no student file
is copied or opened by the runner). A metadata file that is missing, unreadable, not JSON, too
large, a link or of the wrong shape leaves the old name ("submission", or a zip's stem) and is
never a reason to write no result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader import __version__
from grader.layouts.kit import safe_id
from grader.reports import safe_text

RUN_TIMEOUT_ENV = "GRADER_RUN_TIMEOUT_S"
# Gradescope's own limit is at most 40 minutes; stop before it, so the result is ours
DEFAULT_TIMEOUT_S = 35 * 60
METADATA = "submission_metadata.json"
MAX_METADATA_BYTES = 1 << 20  # Gradescope's file is a few kB; more is not its file
STAGE = ".grader-stage"  # under ROOT: the upload renamed to its student's id for the run
UPLOAD_HELP = (
    "upload your modules (losses.py, backprop.py, ...) at the top level or under assignments/, "
    "one .zip of them, or your CS231n assignment tree"
)


class GradingFailed(Exception):
    """The submission could not be graded; the message is shown to the student."""


def failed_result(reason: str) -> dict[str, Any]:
    """A schema-valid results.json for a run that graded nothing: score 0, ``reason`` shown."""
    return {
        "score": 0.0,
        "output": f"Your submission could not be graded: {reason}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "grader/upload: could not be graded",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": reason,
                "visibility": "visible",
                "extra_data": {"kind": "hygiene", "outcome": "crashed"},
            }
        ],
        "extra_data": {
            "topics": {},
            "isolation_level": "none",
            "grader_version": __version__,
            "status": "grader_error",
        },
    }


def _environment(source: Path) -> dict[str, str]:
    """The grader's environment: the secret comes from the zip's file, never from a variable
    the image happens to set (the config names the variable)."""
    from grader import config

    course = config.load(source / "autograder.yml")
    if course.secret_path is None or not course.secret_path.is_file():
        raise GradingFailed("the autograder holds no course secret (re-export it)")
    env = dict(os.environ)
    env.pop(course.config.secret_env, None)
    return env


def read_metadata(root: Path) -> dict[str, Any] | None:
    """``root/submission_metadata.json`` as a dict, or None when it is missing, not a regular
    file (a link is not followed, a FIFO not waited on), larger than ``MAX_METADATA_BYTES``,
    unreadable or not a JSON object."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(root / METADATA, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_METADATA_BYTES:
            return None
        raw = os.read(fd, MAX_METADATA_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > MAX_METADATA_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str:
    """A metadata field as text: strings and integers (Gradescope's ids are numbers), else ''."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()


def student_id(metadata: dict[str, Any] | None) -> str | None:
    """The stable id of the submitters in ``metadata``: their emails joined with ``__`` (sorted,
    the same for every member of a group), else their Gradescope user ids, else the submission
    id, made a safe folder name (``safe_id``); None when the metadata names nobody."""
    if not metadata:
        return None
    users = metadata.get("users")
    users = [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []
    for key in ("email", "id"):
        values = sorted({_text(u.get(key)) for u in users} - {""})
        if values and len(values) == len(users):
            return safe_id("__".join(values))
    submission = _text(metadata.get("id"))
    return safe_id(f"submission_{submission}") if submission else None


def submitters(metadata: dict[str, Any] | None) -> list[dict[str, str]]:
    """The submitters' names, emails and ids, each made one safe line (names are the
    students' own text), for results.json's ``extra_data``."""
    users = (metadata or {}).get("users")
    if not isinstance(users, list):
        return []
    return [
        {key: safe_text.name(_text(u.get(key))) for key in ("name", "email", "id")}
        for u in users[:20]
        if isinstance(u, dict)
    ]


def _single_zip(upload: Path) -> Path | None:
    """The upload's one entry when it is a regular ``.zip`` file (its id would be the zip's
    stem: it is staged as ``<id>.zip``), else None."""
    try:
        entries = [e for e in os.scandir(upload) if not e.name.startswith(".")]
    except OSError:
        return None
    if len(entries) == 1 and entries[0].name.endswith(".zip"):
        if entries[0].is_file(follow_symlinks=False):
            return Path(entries[0].path)
    return None


@contextlib.contextmanager
def staged(root: Path, upload: Path, student: str | None) -> Iterator[Path]:
    """The path to grade so that the submission is named ``student``: the upload (or its one
    zip) renamed to ``ROOT/.grader-stage/<student>`` for the run and renamed back after it.
    ``student`` None, or a rename that fails: the upload itself, under its old name."""
    if student is None:
        yield upload
        return
    stage = root / STAGE
    zipped = _single_zip(upload)
    moved, target = (zipped, stage / f"{student}.zip") if zipped else (upload, stage / student)
    try:
        shutil.rmtree(stage, ignore_errors=True)  # what a killed run left
        stage.mkdir()
        os.rename(moved, target)
    except OSError as exc:
        print(f"gradescope_run: grading under the upload's name ({exc})", file=sys.stderr)
        yield upload
        return
    try:
        yield target
    finally:
        os.rename(target, moved)
        shutil.rmtree(stage, ignore_errors=True)


def grade(root: Path, topics: list[str], timeout_s: float) -> dict[str, Any]:
    """Grade ``root/submission``, named from ``root/submission_metadata.json`` where it names
    the student, and return its results.json (checked against the schema)."""
    from grader.reports import gradescope

    source, upload = root / "source", root / "submission"
    if not upload.is_dir():
        raise GradingFailed(f"nothing was uploaded ({upload} is missing); {UPLOAD_HELP}")
    env = _environment(source)
    metadata = read_metadata(root)
    with staged(root, upload, student_id(metadata)) as path:
        data = _run(path, source, topics, timeout_s, env)
    if people := submitters(metadata):
        data["extra_data"]["submitters"] = people
    gradescope.validate(data)
    return data


def _run(
    upload: Path, source: Path, topics: list[str], timeout_s: float, env: dict[str, str]
) -> dict[str, Any]:
    """``grader grade upload`` in a child process: the one results.json it writes."""
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as out:
        command = [sys.executable, "-m", "grader", "--config", str(source / "autograder.yml")]
        command += ["grade", str(upload), "--out", out, "--layout", "auto"]
        command += [arg for t in topics for arg in ("--topic", t)]
        try:
            done = subprocess.run(command, env=env, timeout=timeout_s, cwd=source)
        except subprocess.TimeoutExpired:
            raise GradingFailed(f"grading took longer than {timeout_s:g} s") from None
        if done.returncode != 0:
            raise GradingFailed(f"the grader stopped with status {done.returncode}")
        found = sorted(Path(out).glob("*/results.json"))
        if not found:
            raise GradingFailed(f"no submission found in the upload; {UPLOAD_HELP}")
        if len(found) > 1:
            names = ", ".join(p.parent.name for p in found)
            raise GradingFailed(f"the upload holds {len(found)} submissions ({names}); upload one")
        data: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return data


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.exporters.gradescope_run")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--topic", action="append", dest="topics", default=[])
    args = parser.parse_args(argv)
    timeout_s = float(os.environ.get(RUN_TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    try:
        data = grade(args.root, args.topics, timeout_s)
    except GradingFailed as exc:
        data = failed_result(str(exc))
    except Exception:  # noqa: BLE001 -- whatever broke, the student gets a result
        traceback.print_exc()  # stdout and stderr are for staff only (stdout_visibility)
        data = failed_result("the autograder failed (not your fault); your instructor will regrade")
    write_atomically(args.root / "results" / "results.json", data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

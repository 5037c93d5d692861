"""The malformed-submission matrix: every way a submission can be broken or hostile, built beside
a correct one in one batch folder, with the result each must get.

Used by ``tests/layouts/test_malformed.py`` (one ``grader grade`` run over all of them) and by
``scripts/malformed_matrix.py`` (the same run, printed as a markdown table). Every case is graded
on the ``dropout`` topic; ``alice`` is the correct submission that must get full marks.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.layouts.kit import MAX_ZIP_FILES

REPO = Path(__file__).resolve().parents[2]
ALICE = REPO / "examples" / "submissions" / "alice" / "dropout.py"
TOPIC = "dropout"


def zip_of(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _patch_header(path: Path, offset_local: int, offset_central: int, value: int) -> None:
    """Overwrite a 2-byte field of every local and central header (single-member zips)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        at = data.find(signature)
        while at >= 0:
            old = struct.unpack_from("<H", data, at + offset)[0]
            struct.pack_into("<H", data, at + offset, old | value if offset in (6, 8) else value)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def bad_crc(path: Path) -> Path:
    zip_of(path, {"dropout.py": b"x = 1\n" * 200}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.find(b"x = 1")] = ord("y")
    path.write_bytes(bytes(data))
    return path


def encrypted(path: Path) -> Path:
    zip_of(path, {"dropout.py": b"x = 1\n"}, zipfile.ZIP_STORED)
    _patch_header(path, 6, 8, 0x1)  # general purpose flag bit 0: encrypted
    return path


def deflate64(path: Path) -> Path:
    zip_of(path, {"dropout.py": b"x = 1\n"}, zipfile.ZIP_STORED)
    _patch_header(path, 8, 10, 9)  # compression method 9: deflate64, not in the standard library
    return path


def truncated(path: Path) -> Path:
    zip_of(path, {"dropout.py": os.urandom(4000)})
    path.write_bytes(path.read_bytes()[:-300])
    return path


def not_utf8_name(path: Path) -> Path:
    """A member whose name claims UTF-8 (flag bit 11) but is not."""
    zip_of(path, {"dropout\xe9.py": b"x = 1\n"}, zipfile.ZIP_STORED)
    data = path.read_bytes().replace("dropout\xe9.py".encode(), b"dropout\xff\xfe.py")
    path.write_bytes(data)
    return path


def symlink_member(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("dropout.py")
        link.external_attr = 0o120777 << 16  # a symbolic link member, to a classmate's file
        archive.writestr(link, "../alice/dropout.py")
    return path


def escaping_members(path: Path) -> Path:
    return zip_of(path, {"../dropout.py": ALICE.read_bytes(), "/tmp/dropout.py": b"x = 1\n"})


def socket_file(path: Path) -> Path:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # the file stays after the socket is closed
    return path


def device(path: Path) -> Path | None:
    if os.geteuid() != 0:
        return None  # mknod needs root
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: reading never ends
    return path


def symlinked_folder(path: Path) -> Path:
    os.symlink(path.parent / "alice", path)  # graded with alice's code under its own name: no
    return path


def symlinked_assignments(path: Path) -> Path:
    path.mkdir()
    os.symlink(REPO / "solutions", path / "assignments")  # the reference solutions
    return path


def symlinked_zip(path: Path) -> Path:
    zip_of(path.with_name("target.zip"), {"dropout.py": b"x = 1\n"})  # a student of its own
    os.symlink(path.with_name("target.zip"), path)
    return path


def one_folder(path: Path) -> Path:
    return zip_of(path, {"inner/dropout.py": ALICE.read_bytes(), "inner/notes.txt": b"hi"})


WRONG = b"def dropout_forward(x, dropout_param):\n    return x, None\n"


def same_id(path: Path) -> Path:
    """``one_id.zip`` beside ``one id.zip`` (alice's code, first in name order): both give
    the id ``one_id``; this one gets ``one_id~<hash of its path>``, its own scratch folder and
    its own (wrong) files, the other keeps ``one_id`` and full marks."""
    zip_of(path.with_name("one id.zip"), {"dropout.py": ALICE.read_bytes()})
    return zip_of(path, {"dropout.py": WRONG})


@dataclass(frozen=True)
class Case:
    """One malformed submission: its file name in the batch, what it is, how it is made
    (``None`` from ``make``: not possible here), and what its result must be: the gradebook
    status, a text its reason holds, and its student id (``~`` alone: a collision id)."""

    file: str
    what: str
    make: Callable[[Path], Path | None]
    status: str
    reason: str
    student: str


CASES = (
    Case(
        "text.zip",
        "a text file named .zip",
        lambda p: p.write_bytes(b"hi") or p,
        "refused",
        "is not a valid zip file",
        "text",
    ),
    Case("crc.zip", "a member with a bad CRC", bad_crc, "refused", "Bad CRC-32", "crc"),
    Case(
        "truncated.zip",
        "a truncated zip",
        truncated,
        "refused",
        "not a valid zip file",
        "truncated",
    ),
    Case(
        "bomb.zip",
        "60 MiB of zeros (a zip bomb)",
        lambda p: zip_of(p, {"dropout.py": bytes(60 << 20)}),
        "refused",
        "more than 50 MiB unpacked",
        "bomb",
    ),
    Case(
        "ratio.zip",
        "8 MiB of zeros (ratio over 200)",
        lambda p: zip_of(p, {"dropout.py": bytes(8 << 20)}),
        "refused",
        "expands more than 200 times",
        "ratio",
    ),
    Case(
        "members.zip",
        f"{MAX_ZIP_FILES + 1} members",
        lambda p: zip_of(p, {f"f{i}.txt": b"" for i in range(MAX_ZIP_FILES + 1)}),
        "refused",
        f"more than {MAX_ZIP_FILES} files",
        "members",
    ),
    Case("encrypted.zip", "an encrypted member", encrypted, "refused", "is encrypted", "encrypted"),
    Case(
        "deflate64.zip",
        "a deflate64 member",
        deflate64,
        "refused",
        "unsupported compression method (9)",
        "deflate64",
    ),
    Case(
        "longname.zip",
        "a 300-byte path component",
        lambda p: zip_of(p, {"a" * 300 + ".py": b"1"}),
        "refused",
        "path that is too long",
        "longname",
    ),
    Case(
        "clash.zip",
        "a file/directory clash",
        lambda p: zip_of(p, {"x.py": b"1", "x.py/dropout.py": b"2"}),
        "refused",
        "could not be unpacked",
        "clash",
    ),
    Case(
        "badname.zip",
        "a member name that is not UTF-8",
        not_utf8_name,
        "refused",
        "could not be unpacked",
        "badname",
    ),
    Case(
        "fifo.zip",
        "a FIFO named .zip",
        lambda p: os.mkfifo(p) or p,
        "refused",
        "not a regular file (a FIFO, socket or device)",
        "fifo",
    ),
    Case(
        "socket.zip",
        "a socket named .zip",
        socket_file,
        "refused",
        "not a regular file (a FIFO, socket or device)",
        "socket",
    ),
    Case(
        "device.zip",
        "a character device (/dev/zero) named .zip",
        device,
        "refused",
        "not a regular file (a FIFO, socket or device)",
        "device",
    ),
    Case(
        "link.zip",
        "a symlink named .zip",
        symlinked_zip,
        "refused",
        "link.zip is a symbolic link (not accepted)",
        "link",
    ),
    Case(
        "linkmember.zip",
        "a symlink member (dropout.py -> ../alice/dropout.py)",
        symlink_member,
        "graded",
        "dropout.py is a symbolic link in the zip (not accepted)",
        "linkmember",
    ),
    Case(
        "escape.zip",
        "members ../dropout.py and /tmp/dropout.py",
        escaping_members,
        "graded",
        "dropout.py was not submitted",
        "escape",
    ),
    Case(
        "linkfolder",
        "a folder that is a symlink to alice's",
        symlinked_folder,
        "refused",
        "linkfolder is a symbolic link (not accepted)",
        "linkfolder",
    ),
    Case(
        "linkassign",
        "assignments/ a symlink to the checkout's solutions/",
        symlinked_assignments,
        "graded",
        "assignments is a symbolic link",
        "linkassign",
    ),
    Case(
        "onefolder.zip",
        "a zip of one folder (correct)",
        one_folder,
        "graded",
        "full marks",
        "onefolder",
    ),
    Case(
        "one_id.zip",
        "a second zip whose name gives the id one_id",
        same_id,
        "graded",
        "dropout_forward",
        "one_id~",
    ),
)


def build(folder: Path) -> dict[str, str]:
    """Write alice and every case into ``folder``; return the cases skipped here (why)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alice").mkdir()
    (folder / "alice" / "dropout.py").write_bytes(ALICE.read_bytes())
    skipped = {}
    for case in CASES:
        if case.make(folder / case.file) is None:
            skipped[case.file] = "needs root (mknod)"
    return skipped


def grade(batch: Path, out: Path) -> subprocess.CompletedProcess:
    """One ``grader grade`` run over the batch, the ``dropout`` topic."""
    return subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out)]
        + ["--topic", TOPIC, "--jobs", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


@dataclass(frozen=True)
class Result:
    student: str
    status: str
    score: str
    reason: str


def results(out: Path) -> dict[str, Result]:
    """Each student's result, read back from the run's files: gradebook status and score, and
    the reason (the refusal, else the first failed check's message, else "full marks")."""
    found = {}
    for row in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")):
        data = json.loads((out / row["student_id"] / "results.json").read_text())
        failed = [t for t in data["tests"] if t["status"] == "failed"]
        if row["status"] == "refused":
            reason = (
                data["output"].split("\n")[0].removeprefix("Your submission could not be read: ")
            )
        elif failed:
            reason = failed[0]["output"].split("\n")[0]
        else:
            reason = "full marks"
        score = f"{row['score']}/{row['max_score']}"
        found[row["student_id"]] = Result(row["student_id"], row["status"], score, reason)
    return found


def result_of(case: Case, found: dict[str, Result]) -> Result | None:
    """The result of ``case`` (a collision id is found by its prefix)."""
    if case.student.endswith("~"):
        return next((r for s, r in found.items() if s.startswith(case.student)), None)
    return found.get(case.student)

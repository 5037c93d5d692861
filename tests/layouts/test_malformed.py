"""Nothing a submission is made of stops the batch: each malformed zip or special file becomes
that submission's refused result, with the reason, and the others are graded."""

from __future__ import annotations

import csv
import os
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.layouts.kit import MAX_ZIP_FILES, discover

TOPICS = ("dropout",)
REPO = Path(__file__).resolve().parents[2]
ALICE = REPO / "examples" / "submissions" / "alice" / "dropout.py"


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
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


def _bad_crc(path: Path) -> Path:
    _zip(path, {"dropout.py": b"x = 1\n" * 200}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.find(b"x = 1")
    data[at] = ord("y")
    path.write_bytes(bytes(data))
    return path


def _encrypted(path: Path) -> Path:
    _zip(path, {"dropout.py": b"x = 1\n"}, zipfile.ZIP_STORED)
    _patch_header(path, 6, 8, 0x1)  # general purpose flag bit 0: encrypted
    return path


def _deflate64(path: Path) -> Path:
    _zip(path, {"dropout.py": b"x = 1\n"}, zipfile.ZIP_STORED)
    _patch_header(path, 8, 10, 9)  # compression method 9: deflate64, not in the standard library
    return path


def _truncated(path: Path) -> Path:
    _zip(path, {"dropout.py": os.urandom(4000)})
    path.write_bytes(path.read_bytes()[:-300])
    return path


def _clash(path: Path) -> Path:
    return _zip(path, {"x.py": b"1", "x.py/dropout.py": b"2"})


CASES = {
    # name -> (how it is made, what the refusal says)
    "text": (lambda p: p.write_bytes(b"just text") or p, "is not a valid zip file"),
    "crc": (_bad_crc, "CRC"),
    "truncated": (_truncated, "not a valid zip file"),
    "bomb": (lambda p: _zip(p, {"dropout.py": bytes(60 << 20)}), "more than 50 MiB unpacked"),
    "ratio": (lambda p: _zip(p, {"dropout.py": bytes(8 << 20)}), "expands more than 200 times"),
    "members": (
        lambda p: _zip(p, {f"f{i}.txt": b"" for i in range(MAX_ZIP_FILES + 1)}),
        f"more than {MAX_ZIP_FILES} files",
    ),
    "encrypted": (_encrypted, "is encrypted"),
    "deflate64": (_deflate64, "unsupported compression method (9)"),
    "longname": (lambda p: _zip(p, {"a" * 300 + ".py": b"1"}), "path that is too long"),
    "clash": (_clash, "could not be unpacked"),
    "fifo": (lambda p: os.mkfifo(p) or p, "not a regular file (a FIFO, socket or device)"),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed") / "batch"
    folder.mkdir()
    for name, (make, _) in CASES.items():
        make(folder / f"{name}.zip")
    if os.geteuid() == 0:  # a character device named like a zip (reading /dev/zero never ends)
        os.mknod(folder / "device.zip", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    (folder / "alice").mkdir()
    (folder / "alice" / "dropout.py").write_text(ALICE.read_text())
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_malformed_submission_is_refused_with_its_reason(batch, tmp_path, name):
    subs = {s.student_id: s for s in discover([batch], TOPICS, tmp_path)}
    assert subs[name].refused and CASES[name][1] in subs[name].refused, subs[name].refused
    assert subs["alice"].refused is None and set(subs["alice"].modules) == {"dropout"}


def test_a_device_named_zip_is_refused_without_reading_it(batch, tmp_path):
    if not (batch / "device.zip").exists():
        pytest.skip("creating a device node needs root")
    subs = {s.student_id: s for s in discover([batch], TOPICS, tmp_path)}
    assert "not a regular file" in subs["device"].refused


def test_the_batch_grades_everyone_and_reports_the_refusals(course, batch, tmp_path):
    out = tmp_path / "out"
    reports = {r.student_id: r for r in grade_batch(course, [batch], out, TOPICS, jobs=2)}
    assert reports["alice"].score == reports["alice"].max_score > 0
    rows = {row["student_id"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    for name in CASES:
        assert reports[name].status == "refused" and reports[name].score == 0
        assert rows[name]["status"] == "refused"
        results = (out / name / "results.json").read_text()
        assert "Your submission could not be read" in results
        assert reports[name].max_score == reports["alice"].max_score  # the same maximum
    assert rows["alice"]["status"] == "graded"
    assert not (out / ".grader-scratch").exists()


def test_the_cli_exits_0_on_a_batch_with_malformed_submissions(batch, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(tmp_path / "o")]
        + ["--topic", "dropout"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr

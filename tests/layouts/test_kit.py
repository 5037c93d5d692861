"""Kit layout: folders and zips, modules at the root or under assignments/, nothing unsafe."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from grader.layouts.kit import LayoutError, discover, safe_id

TOPICS = ("losses", "backprop")


def make_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_a_folder_of_folders_and_zips(tmp_path):
    batch = tmp_path / "batch"
    (batch / "ann").mkdir(parents=True)
    (batch / "ann" / "losses.py").write_text("x = 1")
    (batch / "ben" / "assignments").mkdir(parents=True)
    (batch / "ben" / "assignments" / "backprop.py").write_text("x = 1")
    make_zip(batch / "cat.zip", {"cat/losses.py": "x = 1", "cat/notes.txt": "hi"})
    make_zip(batch / "dan.zip", {"losses.py": "x = 1", "backprop.py": "x = 2"})
    subs = {s.student_id: s for s in discover([batch], TOPICS, tmp_path / "scratch")}
    assert sorted(subs) == ["ann", "ben", "cat", "dan"]
    assert set(subs["ann"].modules) == {"losses"}
    assert subs["ben"].modules["backprop"].parent.name == "assignments"
    assert subs["cat"].modules["losses"].read_text() == "x = 1"  # a zip of one folder
    assert set(subs["dan"].modules) == {"losses", "backprop"}


def test_zip_members_cannot_escape_and_bad_zips_are_refused(tmp_path):
    make_zip(tmp_path / "eve.zip", {"../../escaped.py": "x", "/abs.py": "x", "losses.py": "x"})
    (sub,) = discover([tmp_path / "eve.zip"], TOPICS, tmp_path / "scratch")
    assert set(sub.modules) == {"losses"} and sub.refused is None
    assert not (tmp_path / "escaped.py").exists() and not Path("/abs.py").exists()
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    (bad,) = discover([tmp_path / "bad.zip"], TOPICS, tmp_path / "scratch")
    assert bad.student_id == "bad" and not bad.modules
    assert "bad.zip is not a valid zip file" in bad.refused


def test_symlinked_modules_are_refused(tmp_path):
    sub_dir = tmp_path / "mallory"
    sub_dir.mkdir()
    os.symlink("/etc/passwd", sub_dir / "losses.py")
    (sub,) = discover([sub_dir], TOPICS, tmp_path / "scratch")
    assert "losses" not in sub.modules and "symlink" in sub.problems["losses"]


def test_same_student_twice_keeps_both(tmp_path):
    (tmp_path / "batch" / "zoe").mkdir(parents=True)
    (tmp_path / "batch" / "zoe" / "losses.py").write_text("x = 1")
    make_zip(tmp_path / "batch" / "zoe.zip", {"losses.py": "x = 1"})
    ids = [s.student_id for s in discover([tmp_path / "batch"], TOPICS, tmp_path / "s")]
    assert ids == ["zoe", "zoe-2"]


def test_ids_are_safe_folder_names():
    assert safe_id("../../etc") == "etc"
    assert safe_id("Jane Doe (late)") == "Jane_Doe_late"
    assert safe_id("...") == "submission"


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(LayoutError, match="does not exist"):
        discover([tmp_path / "nope"], TOPICS, tmp_path)


def test_a_relative_module_path_is_graded_like_an_absolute_one(course, tmp_path, monkeypatch):
    from grader.pipeline import grade_topic, sandbox_for

    (tmp_path / "losses.py").write_text((course.solutions_dir / "losses.py").read_text())
    monkeypatch.chdir(tmp_path)
    results, _ = grade_topic(course, "losses", Path("losses.py"), None, sandbox_for(course))
    assert results and all(r.passed for r in results), [r.message for r in results][:1]


def test_a_folder_without_modules_or_submissions_is_one_submission(tmp_path):
    """dave's folder graded on a topic he did not submit: his result says so (not 0 results)."""
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "dropout.py").write_text("x = 1")
    (sub,) = discover([tmp_path / "dave"], ("losses",), tmp_path / "scratch")
    assert sub.student_id == "dave" and sub.modules == {} and sub.refused is None

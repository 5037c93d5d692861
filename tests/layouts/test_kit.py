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


def test_same_student_twice_keeps_both_under_ids_no_real_one_can_take(tmp_path):
    batch = tmp_path / "batch"
    (batch / "zoe").mkdir(parents=True)
    (batch / "zoe" / "losses.py").write_text("x = 1")
    make_zip(batch / "zoe.zip", {"losses.py": "x = 2"})
    (batch / "zoe-2").mkdir()  # a real student whose id is what a "-2" renaming would give
    (batch / "zoe-2" / "losses.py").write_text("x = 3")
    (batch / "ZOE.zip").write_bytes((batch / "zoe.zip").read_bytes())  # the same on macOS
    found = discover([batch], TOPICS, tmp_path / "s")
    ids = [s.student_id for s in found]
    assert len({i.casefold() for i in ids}) == len(ids) == 4
    assert "zoe-2" in ids  # the real student keeps her id
    zoes = [
        s for s in found if s.student_id.casefold().startswith("zoe") and s.student_id != "zoe-2"
    ]
    assert sum("~" not in s.student_id for s in zoes) == 1  # the first keeps "zoe"
    assert all(s.student_id.split("~")[0].casefold() == "zoe" for s in zoes)
    assert all("~" not in safe_id(s.source.name) for s in found)
    by_id = {s.student_id: s for s in found}
    assert by_id["zoe-2"].modules["losses"].read_text() == "x = 3"  # nobody else's files
    # stable: the same ids in another run, whatever scratch folder it uses
    again = [s.student_id for s in discover([batch], TOPICS, tmp_path / "other")]
    assert again == ids


def test_two_zips_with_one_id_are_unpacked_into_folders_of_their_own(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    make_zip(batch / "a b.zip", {"losses.py": "x = 'a b'"})
    make_zip(batch / "a_b.zip", {"losses.py": "x = 'a_b'", "backprop.py": "y = 1"})
    first, second = discover([batch], TOPICS, tmp_path / "scratch")
    assert first.student_id == "a_b" and second.student_id.startswith("a_b~")
    assert first.modules["losses"].read_text() == "x = 'a b'" and "backprop" not in first.modules
    assert second.modules["losses"].read_text() == "x = 'a_b'"
    assert first.modules["losses"].parent != second.modules["losses"].parent


def test_a_symlinked_assignments_folder_is_refused_not_followed(course, tmp_path):
    """`assignments` -> the checkout's solutions/: every topic is refused, nothing is read."""
    sub_dir = tmp_path / "mallory"
    sub_dir.mkdir()
    os.symlink(course.solutions_dir, sub_dir / "assignments")
    (sub,) = discover([sub_dir], TOPICS, tmp_path / "scratch")
    assert sub.modules == {}
    for topic in TOPICS:
        assert sub.problems[topic] == "assignments is a symbolic link (symlinks are not accepted)"
    assert not list((tmp_path / "scratch").rglob("*.py"))  # no copy of a solution either


def test_a_symlinked_submission_folder_in_a_batch_is_refused(tmp_path):
    batch = tmp_path / "batch"
    (batch / "carol").mkdir(parents=True)
    (batch / "carol" / "losses.py").write_text("x = 1")
    os.symlink(batch / "carol", batch / "dave")  # dave graded with carol's code: no
    subs = {s.student_id: s for s in discover([batch], TOPICS, tmp_path / "scratch")}
    assert subs["dave"].refused == "dave is a symbolic link (not accepted)"
    assert subs["carol"].refused is None and set(subs["carol"].modules) == {"losses"}


def test_the_worker_gets_the_judges_copy_of_the_bytes_it_read(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "losses.py").write_text("x = 1")
    (sub,) = discover([tmp_path / "ann"], TOPICS, tmp_path / "scratch")
    module = sub.modules["losses"]
    assert module.is_relative_to(tmp_path / "scratch") and module.read_text() == "x = 1"
    (tmp_path / "ann" / "losses.py").write_text("x = 2")  # changed after it was read
    assert module.read_text() == "x = 1"


def test_special_files_named_like_modules_are_refused_unopened(tmp_path):
    (tmp_path / "fred").mkdir()
    os.mkfifo(tmp_path / "fred" / "losses.py")  # opening it for reading would block forever
    (sub,) = discover([tmp_path / "fred"], TOPICS, tmp_path / "scratch")
    assert sub.problems["losses"] == "losses.py is a FIFO (not a regular file)"


def test_zip_links_and_escaping_members_are_left_out_with_the_reason(tmp_path):
    path = tmp_path / "gus.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("gus/losses.py")
        link.external_attr = (0o120777) << 16  # a symbolic link member
        archive.writestr(link, "/etc/passwd")
        archive.writestr("gus/backprop.py", "x = 1")
        archive.writestr("../evil.py", "x = 1")
    (sub,) = discover([path], TOPICS, tmp_path / "scratch")
    assert sub.refused is None and set(sub.modules) == {"backprop"}
    assert sub.problems["losses"] == "losses.py is a symbolic link in the zip (not accepted)"
    assert not (tmp_path / "evil.py").exists()


def test_ids_are_safe_folder_names():
    assert safe_id("../../etc") == "etc"
    assert safe_id("Jane Doe (late)") == "Jane_Doe_late"
    assert safe_id("...") == "submission"
    assert safe_id("-rf") == "rf" and safe_id("=1+1") == "1_1"  # no option, no formula
    assert safe_id("\x1b[31mred") == "31mred" and safe_id("a~1") == "a_1"


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

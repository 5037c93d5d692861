"""The student release: its layout, the same feedback as the instructor's tree, pytest over the
stubs, and one clear line for missing, truncated or foreign data."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader.release import data
from tests.release.conftest import ROOT, TOPICS, Kit, run_in

DUMP = Path(__file__).with_name("dump.py")
EXAMPLES = sorted(p for p in (ROOT / "examples" / "submissions").iterdir() if p.is_dir())


def _manifest(kit: Kit) -> dict:
    return json.loads((kit.folder / "data" / "manifest.json").read_text())


def test_layout(kit: Kit, course) -> None:
    names = {p.name for p in kit.folder.iterdir()}
    assert {"assignments", "notebooks", "data", "grader", "README.md", "DATA.md"} <= names
    assert {"autograder.yml", "pyproject.toml"} <= names
    assert not names & {"solutions", "tests", "examples", "soundness", ".grader-cache"}
    assert sorted(p.stem for p in (kit.folder / "assignments").glob("*.py")) == sorted(TOPICS)
    assert sorted(p.stem for p in (kit.folder / "notebooks").glob("*.ipynb")) == sorted(TOPICS)
    readme = (kit.folder / "README.md").read_text()
    assert "python -m pip install torch==2.13.0 && python -m pip install -e ." in readme
    # the Chinese student README, and the catalogue the kit's --lang zh reads
    readme_zh = (kit.folder / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "python -m pip install torch==2.13.0 && python -m pip install -e ." in readme_zh
    assert "grader check --lang zh" in readme_zh and "学生套件" in readme_zh
    assert (kit.folder / "grader" / "locale" / "zh" / "LC_MESSAGES" / "grader.mo").is_file()
    assert "locale/*/LC_MESSAGES/*.mo" in (kit.folder / "pyproject.toml").read_text()
    with zipfile.ZipFile(kit.built.zip_path) as z:
        zipped = {n.split("/", 1)[1] for n in z.namelist()}
    on_disk = {str(p.relative_to(kit.folder)) for p in kit.folder.rglob("*") if p.is_file()}
    assert zipped == on_disk
    manifest = _manifest(kit)
    assert manifest["format"] == data.FORMAT
    for topic in TOPICS:  # every visible check is in the data or left out with a reason
        part = manifest["topics"][topic]
        visible = {p.check_id for p in course.plans[topic] if p.visibility == "visible"}
        assert set(part["checks"]) | set(part["excluded"]) == visible
        assert all(part["excluded"].values())
    # a topic whose reference is a class: every public check is data all the same
    assert manifest["topics"]["autograd"]["excluded"] == {}


def _dump(root: Path, pythonpath: Path) -> list[dict]:
    done = run_in(pythonpath, str(DUMP), str(root), ",".join(TOPICS), *map(str, EXAMPLES))
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_same_feedback_as_the_instructor_tree(kit: Kit) -> None:
    """Every example submission (the buggy ones and the adversarial ones), every public check:
    the same outcome, message, warnings and named mistake (speed checks: outcome and mistake;
    their timings differ run to run). Checks the release leaves out are ``not_run`` there."""
    left_out = {c for part in _manifest(kit)["topics"].values() for c in part["excluded"]}
    # the two trees graded side by side: each dump is one process, most of a minute alone
    with ThreadPoolExecutor(2) as pool:
        instructor, release = pool.map(_dump, (ROOT, kit.folder), (ROOT, kit.folder))
    assert [r["check"] for r in instructor] == [r["check"] for r in release]
    named = 0
    for mine, theirs in zip(instructor, release):
        if mine["check"] in left_out:
            assert (
                theirs["outcome"] == "not_run" and "not in the student release" in theirs["message"]
            )
            continue
        keys = ("outcome", "misconception") + (
            () if mine["kind"] == "speed" else ("message", "warnings")
        )
        assert {k: theirs[k] for k in keys} == {k: mine[k] for k in keys}, (
            mine["student"],
            mine["check"],
        )
        named += mine["misconception"] is not None
    assert named > 0  # the examples' mistakes were named, in both


def test_pytest_runs_the_public_checks(kit: Kit) -> None:
    """Every public check is a pytest item: the stubs fail each (GPU checks: skipped here)."""
    done = run_in(kit.folder, "-m", "pytest", "assignments/", "-q", "-p", "no:cacheprovider")
    visible = sum(len(p["checks"]) + len(p["excluded"]) for p in _manifest(kit)["topics"].values())
    assert done.returncode == 1, done.stdout[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    counts = dict((w, int(n)) for n, w in re.findall(r"(\d+) (failed|skipped|passed)", last))
    assert counts.get("failed", 0) + counts.get("skipped", 0) == visible, last
    assert "passed" not in counts and counts["failed"] > 0, last
    assert "not_implemented" in done.stdout


@pytest.fixture
def broken(kit: Kit, tmp_path: Path) -> Path:
    copy = tmp_path / "kit"
    shutil.copytree(kit.folder, copy)
    return copy


def _one_line(done) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return " ".join(lines)


@pytest.mark.parametrize("damage", ["missing", "truncated", "format"])
def test_damaged_data_says_so_and_how_to_restore(broken: Path, damage: str) -> None:
    folder = broken / "data"
    if damage == "missing":
        (folder / "losses.npz").unlink()
    elif damage == "truncated":
        content = (folder / "losses.npz").read_bytes()
        (folder / "losses.npz").write_bytes(content[: len(content) // 2])
    else:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["format"] = "grader-release-data-0"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    done = run_in(broken, "-m", "grader", "check", "losses")
    text = _one_line(done)
    assert done.returncode == 2, text
    assert {"missing": "is missing", "truncated": "truncated", "format": "format"}[damage] in text
    assert "restore the kit's data/ folder" in text
    assert "passed" not in text  # nothing was graded, nothing skipped silently


def test_an_answer_not_in_the_data_is_an_error_naming_the_check(broken: Path) -> None:
    """A data file whose entries lost one answer (and whose hash was updated to match): the
    check that asks for it says so, and no other check changes."""
    folder = broken / "data"
    manifest = json.loads((folder / "manifest.json").read_text())
    part = manifest["topics"]["losses"]
    check, keys = next((c, k) for c, k in part["checks"].items() if k)
    index = json.loads((folder / "losses.json").read_text())
    del index["entries"][keys[0]]
    (folder / "losses.json").write_text(json.dumps(index))
    part["sha256"] = data.digest(folder / "losses.json", folder / "losses.npz")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    solutions = ROOT / "solutions"
    done = run_in(broken, "-m", "grader", "check", "losses", "--submission", str(solutions))
    assert done.returncode == 1
    assert "is not in the release data" in done.stdout.replace("\n", " ")


def test_shipped_arrays_load_without_pickle(kit: Kit) -> None:
    for topic in TOPICS:
        with np.load(kit.folder / "data" / f"{topic}.npz", allow_pickle=False) as npz:
            arrays = _manifest(kit)["topics"][topic]["arrays"]
            assert sorted(npz.files) == sorted(arrays)
            name = npz.files[0]
            assert [npz[name].dtype.str, list(npz[name].shape)] == arrays[name]


def test_mistake_models_are_not_in_the_release(kit: Kit) -> None:
    """The release's registry has no model code: every known mistake's variant is None."""
    code = (
        "from grader import registry\n"
        f"for t in {TOPICS!r}:\n"
        "    ms = registry.topic(t).misconceptions\n"
        "    assert ms and all(m.variant is None for m in ms), t\n"
        "print('ok')\n"
    )
    done = run_in(kit.folder, "-c", code)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-2000:]
    assert kit.built.stripped  # the build said which models it hollowed

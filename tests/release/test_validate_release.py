"""``grader validate --release``: stale data names the check; a tree that ``grader validate``
finds wrong is not released."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import config
from grader.release import ReleaseRefused, data
from grader.release.build import build
from grader.validate import stale_data
from tests.release.conftest import ROOT, Kit


def test_fresh_data_is_not_stale(kit: Kit, course) -> None:
    assert stale_data(course, kit.folder, ("losses",)) == []


def test_stale_data_names_the_check(kit: Kit, course, tmp_path: Path) -> None:
    stale = tmp_path / "kit"
    shutil.copytree(kit.folder, stale)
    folder = stale / "data"
    manifest = json.loads((folder / "manifest.json").read_text())
    part = manifest["topics"]["losses"]
    index = json.loads((folder / "losses.json").read_text())
    check, key = next(
        (c, k)
        for c, keys in part["checks"].items()
        for k in keys
        if '"a"' in json.dumps(index["entries"][k]["result"])
    )
    name = json.dumps(index["entries"][key]["result"]).split('"a": "')[1].split('"')[0]
    with np.load(folder / "losses.npz") as npz:
        arrays = {n: npz[n] for n in npz.files}
    arrays[name] = arrays[name] + 1.0  # what an older solution would have answered
    np.savez_compressed(folder / "losses.npz", **arrays)
    part["sha256"] = data.digest(folder / "losses.json", folder / "losses.npz")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    problems = stale_data(course, stale, ("losses",))
    assert any(p.startswith(f"stale data: {check}") for p in problems), problems


def test_a_tree_that_fails_validate_is_not_released(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for part in ("solutions", "assignments"):
        shutil.copytree(ROOT / part, tree / part)
    shutil.copy2(ROOT / "autograder.yml", tree / "autograder.yml")
    stub = tree / "assignments" / "losses.py"
    stub.write_text(
        stub.read_text().replace(
            "    W: np.ndarray, X: np.ndarray, y", "    V: np.ndarray, X: np.ndarray, y", 1
        )
    )
    course = config.load(tree / "autograder.yml")
    with pytest.raises(ReleaseRefused, match="grader validate fails.*svm_loss_naive"):
        build(course, tmp_path / "kit", ("losses",))
    assert not (tmp_path / "kit").exists()


@pytest.mark.slow
def test_full_release_validates(course, tmp_path: Path) -> None:
    """Every topic: the build (with grader validate first) and grader validate --release."""
    from grader.validate import validate_release

    built = build(course, tmp_path / "kit", course.topics)
    assert validate_release(course, built.folder) == []

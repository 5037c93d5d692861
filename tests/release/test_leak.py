"""The leak scan (``grader.release.leak``): a built release is clean; a release with one
solution function planted in it (renamed, reformatted), bytecode, a hidden check's id or the
course secret is not."""

from __future__ import annotations

import ast
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

from grader.release import leak
from grader.release.build import _zip
from tests.release.conftest import ROOT, Kit


def _known(course, secret: str = "public") -> leak.Known:
    return leak.Known.of(replace(course, secret=secret), set())


def test_the_built_release_is_clean(kit: Kit, course) -> None:
    assert leak.scan(kit.folder, course, _known(course)) == []
    everything = [p.name for p in kit.folder.rglob("*")]
    with zipfile.ZipFile(kit.built.zip_path) as z:
        everything += z.namelist()
    assert not [n for n in everything if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]


def _solution_function(name: str) -> str:
    """A function of solutions/conv.py, renamed and unparsed (its formatting changed)."""
    tree = ast.parse((ROOT / "solutions" / "conv.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    fn.name = "helper_" + name
    return ast.unparse(fn)


def test_a_planted_solution_function_is_found(kit: Kit, course, tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    shutil.copytree(kit.folder, leaky)
    target = leaky / "grader" / "judge" / "compare.py"
    target.write_text(target.read_text() + "\n\n" + _solution_function("conv_forward_naive"))
    (leaky / "grader" / "__pycache__").mkdir()
    (leaky / "grader" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0" * 16)
    hidden = _known(course).hidden_ids[0]
    (leaky / "NOTES.md").write_text(f"remember {hidden}\n")
    _zip(leaky)
    findings = leak.scan(leaky, course, _known(course))
    text = "\n".join(map(str, findings))
    print("\nfindings on the deliberately leaky release:\n" + text)
    assert "grader/judge/compare.py: helper_conv_forward_naive has the body of " in text
    assert "solutions/conv.py: conv_forward_naive" in text
    assert "leaky.zip!leaky/grader/judge/compare.py" in text  # in the zip as well
    assert "cli.cpython-311.pyc: bytecode" in text
    assert f"names the hidden check {hidden!r}" in text


def test_the_course_secret_is_found(kit: Kit, course, tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    shutil.copytree(kit.folder, leaky)
    (leaky / "autograder.yml").write_text("# secret: s3cret-of-the-course\n")
    found = leak.scan(leaky, course, _known(course, "s3cret-of-the-course"))
    assert [str(f) for f in found] == ["autograder.yml: holds the course secret or its fingerprint"]

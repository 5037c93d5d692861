"""The worker's file system is an allow-list: what a real worker can read and write, from inside.

A probe graded like a student's module walks the worker's file system (``grader.sandbox.survey``)
with the course's own sandbox (full isolation, as root); every readable or writable path and
every writable mount is compared with the allow-list, and, independently of it, the checkout,
an example submission placed where a classmate's could be, ``/root``, ``/home`` and ``/etc`` are
looked at by name. The same survey of a deny-list worker with nothing hidden (the layer off)
must fail the comparison: the test can fail.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from grader import config, pipeline
from grader.judge.student import Call, StudentModule
from grader.sandbox import survey
from grader.sandbox.allowlist import covers
from grader.sandbox.process import GRADER_DIR, Sandbox

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="the allow-list root needs root on Linux (the worker says which layers applied)",
)


@pytest.fixture(scope="module")
def classmate():
    """An example submission where a classmate's could lie on the host: outside the private
    /tmp (which no worker shares), in a folder the deny-list leaves visible."""
    base = next(
        p
        for p in (Path("/srv"), Path("/opt"), Path("/var/lib"), Path("/run"))
        if p.is_dir() and os.access(p, os.W_OK)
    )
    folder = base / f"grader-classmate-{os.getpid()}"
    shutil.copytree(REPO / "examples" / "submissions" / "alice", folder / "alice")
    os.chmod(folder, 0o755)
    yield str(folder / "alice")
    shutil.rmtree(folder)


def _survey(tmp_path: Path, sandbox: Sandbox, classmate: str) -> tuple[dict, survey.Expected]:
    return survey.run(sandbox, tmp_path, REPO, extra=(classmate,))


def test_a_worker_reads_and_writes_only_what_the_allow_list_names(tmp_path, classmate):
    course = config.load(REPO / "autograder.yml")
    result, expected = _survey(tmp_path, pipeline.sandbox_for(course), classmate)
    print(survey.table(result, expected, REPO, (classmate,)))
    assert "allow-list root" in result["isolation"]
    assert survey.violations(result, expected) == []
    readable = {path for path, _kind, r, _w in result["entries"] if r}
    # by name, whatever the allow-list says
    alice = [classmate, str(REPO / "examples" / "submissions" / "alice")]
    assert not any(covers(p, alice) for p in readable)
    assert not any(p.startswith("/home/") for p in readable)
    assert {p for p in readable if p.startswith("/etc/")} <= {"/etc/ld.so.cache", "/etc/localtime"}
    kept = [sys.prefix, sys.base_prefix, sys.exec_prefix, GRADER_DIR]
    for folder in ("/root", str(REPO)):  # only the way to Python and the grader's package
        inside = [p for p in readable if p.startswith(folder + "/")]
        strays = [p for p in inside if not any(covers(k, [p]) or covers(p, [k]) for k in kept)]
        assert strays == [], folder
    writable = [path for path, _kind, _r, w in result["entries"] if w]
    private = ["/tmp", "/var/tmp", "/dev/shm", "/run", *survey.allowlist.DEVICES]
    assert [p for p in writable if not covers(p, private)] == []


def test_the_same_survey_fails_a_worker_without_the_allow_list(tmp_path, classmate):
    """The contrast: a deny-list worker with nothing hidden sees the classmate's submission and
    the host's folders, and the comparison says so."""
    result, expected = _survey(tmp_path, Sandbox(filesystem="deny-list", hide=()), classmate)
    found = survey.violations(result, expected)
    assert "allow-list root" not in result["isolation"]
    assert f"readable: {classmate}/losses.py (file)" in found
    assert any(v.startswith("readable: /etc/") for v in found)


READER = """
def read(path):
    with open(path) as fh:
        return fh.read()
"""


def test_a_hidden_path_inside_an_allowed_folder_stays_hidden(tmp_path):
    """A path the judge hides (a secret inside the checkout's package, say) is covered in the
    new root too, even where the folder around it is allowed: here a file of the stdlib."""
    import this  # noqa: F401  (a file of the stdlib, harmless to hide)

    hidden = sys.modules["this"].__file__
    module = tmp_path / "reader.py"
    module.write_text(READER)
    s = StudentModule(module, "reader", Sandbox(hide=(hidden,)), 10.0, 10.0)
    try:
        assert s.call(Call("read", (hidden,))).value == ""
        assert "allow-list root" in s.isolation  # known once the worker started
        assert "Gvz Crgref" in Path(hidden).read_text()  # the host's copy is untouched (rot13)
    finally:
        s.close()

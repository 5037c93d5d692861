"""``grader export gradescope``: the exported zip's ``run_autograder``, run on a simulated
``/autograder`` tree, gives the scores a direct ``grader grade`` of the same files gives, and
never ends without a schema-valid results.json."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.config import ConfigError
from grader.exporters import gradescope, gradescope_run
from grader.reports.gradescope import validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
TOPICS = ("losses",)  # one topic keeps the runs to seconds; the export takes --topic
CORRUPT = b"PK\x03\x04" + b"\x00not a zip at all" * 8
STUDENTS = ("alice", "bob", "monkeypatch_numpy", "corrupt")  # correct, buggy, hostile, unreadable


@pytest.fixture(scope="module")
def exported(course, tmp_path_factory) -> gradescope.Export:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    return gradescope.export(course, REPO / "autograder.yml", out, TOPICS)


def upload(folder: Path, student: str) -> None:
    """What the student uploads lands in ``folder`` (Gradescope's /autograder/submission)."""
    folder.mkdir(parents=True, exist_ok=True)
    if student == "corrupt":
        (folder / "corrupt.zip").write_bytes(CORRUPT)
    elif student.endswith(".zip"):  # the modules zipped
        with zipfile.ZipFile(folder / student, "w") as archive:
            for module in sorted((EXAMPLES / student.removesuffix(".zip")).glob("*.py")):
                archive.write(module, module.name)
    else:
        for module in (EXAMPLES / student).glob("*.py"):
            shutil.copy(module, folder / module.name)


@pytest.fixture(scope="module")
def kit_results(course, tmp_path_factory) -> dict[str, dict]:
    """A direct grader grade of the same files, per student id."""
    import json

    base = tmp_path_factory.mktemp("direct")
    (base / "corrupt.zip").write_bytes(CORRUPT)
    paths = [EXAMPLES / s for s in STUDENTS if s != "corrupt"] + [base / "corrupt.zip"]
    grade_batch(course, paths, base / "out", TOPICS)
    return {s: json.loads((base / "out" / s / "results.json").read_text()) for s in STUDENTS}


def fresh_tree(exported: gradescope.Export, root: Path) -> Path:
    """A Gradescope tree with the zip unpacked into source/ (setup.sh's installs are not run:
    the kit is installed here)."""
    with zipfile.ZipFile(exported.zip_path) as archive:
        archive.extractall(root / "source")
    for script in gradescope.SCRIPTS:  # extractall drops the modes the zip records
        (root / "source" / script).chmod(0o755)
    return root


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "GRADER_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    env.pop(gradescope.ROOT_ENV, None)  # only the tests that pass a root get one
    return {**env, **extra}


def run_autograder(root: Path, **extra: str) -> dict:
    import json

    env = environment(**{gradescope.ROOT_ENV: str(root), **extra})
    done = subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, timeout=300
    )
    said = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, said
    assert (root / "results" / "results.json").is_file(), said
    data = json.loads((root / "results" / "results.json").read_text())
    validate(data)
    return data


def per_test(data: dict) -> dict[str, tuple[float, str]]:
    return {t["name"]: (t["score"], t["status"]) for t in data["tests"]}


@pytest.mark.parametrize("student", [*STUDENTS, "alice.zip"])
def test_platform_scores_equal_the_kit(exported, kit_results, tmp_path, student):
    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission", student)
    platform = run_autograder(root)
    kit = kit_results[student.removesuffix(".zip")]
    assert per_test(platform) == per_test(kit)
    assert (platform["score"], platform["max_score"]) == (kit["score"], kit["max_score"])
    assert platform["extra_data"]["topics"] == kit["extra_data"]["topics"]
    if student.startswith("alice"):
        assert platform["score"] == platform["max_score"] > 0
    elif student == "corrupt":
        assert platform["score"] == 0 and "could not be read" in platform["output"]
    else:
        assert platform["score"] < platform["max_score"]


def test_a_runner_that_cannot_start_still_writes_results(exported, tmp_path):
    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission", "alice")
    data = run_autograder(root, GRADER_PYTHON=str(tmp_path / "no-such-python"))
    assert data["score"] == 0 and "could not start" in data["output"]


def test_a_grader_failure_is_a_score_0_result_with_the_reason(exported, tmp_path):
    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission", "alice")
    (root / "source" / ".grader-secret").unlink()
    data = run_autograder(root)
    assert data["score"] == 0 and "no course secret" in data["output"]
    (root / "source" / ".grader-secret").write_text("x\n")
    (root / "source" / "autograder.yml").write_text("topics: [")  # the grader stops
    data = run_autograder(root)
    assert data["score"] == 0 and "could not be graded" in data["output"]


def test_two_submissions_in_one_upload_are_refused_with_the_reason(exported, tmp_path):
    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission" / "alice", "alice")
    upload(root / "submission" / "bob", "bob")
    data = run_autograder(root)
    assert data["score"] == 0 and "holds 2 submissions (alice, bob)" in data["output"]


def test_setup_installs_the_pinned_cpu_torch_then_the_kit_from_the_zip(exported, tmp_path):
    root = fresh_tree(exported, tmp_path / "autograder")
    env = environment(GRADER_SETUP_DRY_RUN="1", GRADER_PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"+ {sys.executable} -m pip install torch==2.13.0 "
        "--index-url https://download.pytorch.org/whl/cpu",
        f"+ {sys.executable} -m pip install {root / 'source'}",
    ]


def test_the_zip_carries_the_course_and_is_the_same_on_every_export(course, exported, tmp_path):
    with zipfile.ZipFile(exported.zip_path) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        secret = archive.read(".grader-secret").decode().strip()
        yml = archive.read("autograder.yml")
    assert {"setup.sh", "run_autograder", "pyproject.toml", "README.md"} <= names
    assert {"grader/exporters/gradescope_run.py", "solutions/losses.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert secret == course.secret and yml == (REPO / "autograder.yml").read_bytes()
    again = gradescope.export(course, REPO / "autograder.yml", tmp_path / "again.zip", TOPICS)
    assert again.zip_path.read_bytes() == exported.zip_path.read_bytes()


def test_a_bad_out_path_is_refused_and_nothing_is_written(course, tmp_path):
    with pytest.raises(ConfigError, match=r"\.zip"):
        gradescope.export(course, REPO / "autograder.yml", tmp_path / "autograder.tar", TOPICS)
    assert list(tmp_path.iterdir()) == []


def _can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs root and unshare -m (a mount namespace)")
def test_run_autograder_at_the_real_path_in_a_private_mount_namespace(
    exported, kit_results, tmp_path
):
    """The script as Gradescope runs it: no root variable, /autograder itself, which a bind
    mount in a private mount namespace gives a fresh tree; the host's /autograder stays empty."""
    import json

    tree = fresh_tree(exported, tmp_path / "autograder")
    upload(tree / "submission", "bob")
    made = not os.path.lexists("/autograder")
    if made:
        os.mkdir("/autograder")  # an empty mount point, removed below
    try:
        script = (
            'mount --make-rprivate / && mount --bind "$1" /autograder && '
            "exec /autograder/source/run_autograder"
        )
        done = subprocess.run(
            ["unshare", "-m", "bash", "-c", script, "bash", str(tree)],
            env=environment(),
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()
        assert os.listdir("/autograder") == []
    finally:
        if made:
            os.rmdir("/autograder")
    data = json.loads((tree / "results" / "results.json").read_text())
    validate(data)
    assert per_test(data) == per_test(kit_results["bob"])


def test_the_command_line_writes_the_zip(tmp_path):
    from grader import cli

    out = tmp_path / "autograder.zip"
    argv = ["--config", str(REPO / "autograder.yml"), "export", "gradescope", "--out", str(out)]
    assert cli.main([*argv, "--topic", "losses"]) == 0
    assert "run_autograder" in zipfile.ZipFile(out).namelist()
    assert cli.main([*argv, "--topic", "no_such_topic"]) == cli.EXIT_USAGE


METADATA = {
    "id": 123456,
    "created_at": "2026-12-02T10:00:00.000000-08:00",
    "assignment": {"id": 42, "title": "losses"},
    "users": [
        {"email": "zoe@example.edu", "id": 9, "name": "Zoe \x1b[2J\u202eEvil"},
        {"email": "bob@example.edu", "id": 8, "name": "Bob"},
    ],
}


@pytest.mark.parametrize("student", ["bob", "corrupt"])
def test_the_student_is_named_from_the_submission_metadata(
    exported, kit_results, tmp_path, student
):
    import json

    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission", student)
    before = sorted(p.name for p in (root / "submission").iterdir())
    (root / "submission_metadata.json").write_text(json.dumps(METADATA))
    data = run_autograder(root)
    assert data["extra_data"]["student_id"] == "bob_example.edu__zoe_example.edu"
    assert per_test(data) == per_test(kit_results[student])
    names = [u["name"] for u in data["extra_data"]["submitters"]]
    assert names == ["Zoe \\x1b[2J\\u202eEvil", "Bob"]  # the student's text, escaped
    # the upload is back where Gradescope put it, and the stage is gone
    assert sorted(p.name for p in (root / "submission").iterdir()) == before
    assert not (root / gradescope_run.STAGE).exists()


MALFORMED = ["absent", "not json {", '["a list"]', '{"users": "nobody"}', "link", "fifo", "huge"]
# graded end to end in CI: no file, and the two that could hang the run or be followed out of
# the tree; every case is read in-process below, and all are graded end to end with --runslow
END_TO_END_IN_CI = ("absent", "link", "fifo")


def _plant_metadata(root: Path, elsewhere: Path, metadata: str) -> None:
    path = root / "submission_metadata.json"
    if metadata == "link":  # names a student, were it followed
        elsewhere.write_text('{"id": 1, "users": [{"email": "x@y"}]}')
        path.symlink_to(elsewhere)
    elif metadata == "fifo":
        os.mkfifo(path)  # opened without waiting for a writer, and refused
    elif metadata == "huge":  # names a submission, were it read
        path.write_text('{"id": 1, "pad": "' + "x" * (gradescope_run.MAX_METADATA_BYTES) + '"}')
    elif metadata != "absent":
        path.write_text(metadata)


@pytest.mark.parametrize("metadata", MALFORMED)
def test_missing_or_malformed_metadata_names_nobody(tmp_path, metadata):
    (tmp_path / "root").mkdir()
    _plant_metadata(tmp_path / "root", tmp_path / "elsewhere.json", metadata)
    found = gradescope_run.read_metadata(tmp_path / "root")
    assert gradescope_run.student_id(found) is None
    assert gradescope_run.submitters(found) == []


@pytest.mark.parametrize(
    "metadata",
    [m if m in END_TO_END_IN_CI else pytest.param(m, marks=pytest.mark.slow) for m in MALFORMED],
)
def test_missing_or_malformed_metadata_keeps_the_upload_name(
    exported, kit_results, tmp_path, metadata
):
    root = fresh_tree(exported, tmp_path / "autograder")
    upload(root / "submission", "bob")
    _plant_metadata(root, tmp_path / "elsewhere.json", metadata)
    data = run_autograder(root)
    assert data["extra_data"]["student_id"] == "submission"
    assert "submitters" not in data["extra_data"]
    assert per_test(data) == per_test(kit_results["bob"])


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (METADATA, "bob_example.edu__zoe_example.edu"),
        ({"id": 5, "users": [{"id": 8}, {"id": 9, "email": "z@e"}]}, "8__9"),
        ({"id": 5, "users": [{"name": "no id"}]}, "submission_5"),
        ({"id": 5, "users": [{"email": "../../etc/passwd\n"}]}, "etc_passwd"),
        ({"id": True, "users": [{"email": ["x"]}]}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_student_id_is_stable_and_a_safe_folder_name(metadata, expected):
    assert gradescope_run.student_id(metadata) == expected

"""Every executor grades as the threads of one judge do: judge processes of their own, a Dask
LocalCluster of worker processes, and a cluster whose workers hold the secret themselves give
the same files apart from timings; a grader failure (an exception, a judge process that dies)
fails only its submission; a Dask worker killed mid-batch costs nothing but the retry."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import grader.batch
from grader import executors
from grader.batch import grade_batch
from grader.executors import ExecutorError
from grader.executors.dask import DaskExecutor, pack_course

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions"
TOPICS = ("losses",)
# correct, buggy, one that kills its worker, one that ships numpy.py and conftest.py
CLASS = ("alice", "bob", "os_exit", "ships_conftest_and_numpy")
SECRET = "a secret only the workers and the client know"
_spec = importlib.util.spec_from_file_location(
    "compare_results", REPO / "scripts/compare_results.py"
)
compare_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_results)

# With a cluster alive, references come from judge processes: in this process (a subreaper
# when an earlier test ran the CLI in it) a worker's end kills every unknown child, the
# cluster's worker processes included.
REFERENCE = "processes"
_REAL_GRADE_JOB = grader.batch.grade_job  # in judge processes and Dask workers: the real one


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for name in CLASS:
        shutil.copytree(EXAMPLES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def reference(course, batch, tmp_path_factory) -> Path:
    """The class graded by threads of this judge, as before executors existed."""
    out = tmp_path_factory.mktemp("threads") / "out"
    grade_batch(course, [batch], out, TOPICS, jobs=2, executor="threads")
    rows = _gradebook(out)
    assert rows["alice"]["score"] == rows["alice"]["max_score"]  # not two equally broken runs
    tests = json.loads((out / "os_exit" / "results.json").read_text())["tests"]
    assert any(t["extra_data"]["outcome"] == "crashed" for t in tests)
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A small LocalCluster (2 worker processes) whose workers read the secret from a file,
    as remote workers do; ``marks`` is a folder the tasks of a test may write into."""
    distributed = pytest.importorskip("distributed")
    import logging

    root = tmp_path_factory.mktemp("cluster")
    (root / "secret").write_text(SECRET + "\n")
    (root / "marks").mkdir()
    env = {"GRADER_SECRET_FILE": str(root / "secret"), "GRADER_TEST_MARKS": str(root / "marks")}
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env=env,
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client, root / "marks"


@pytest.mark.parametrize("kind", ["processes", "dask-local"])
def test_results_are_those_of_a_threads_run(course, batch, reference, tmp_path, kind):
    if kind.startswith("dask"):
        pytest.importorskip("distributed")
    out = tmp_path / "out"
    reports = grade_batch(course, [batch], out, TOPICS, jobs=2, executor=kind)
    assert [r.student_id for r in reports] == sorted(CLASS)
    assert compare_results.differences(reference, out) == []
    assert _files(out) == _files(reference)  # and nothing else: no scratch, no temporary file


def test_the_default_is_threads_and_every_kind_is_made():
    assert executors.make(None, jobs=2).name == executors.make("local", jobs=3).name == "threads"
    assert executors.make("processes", jobs=2).name == "processes"
    pytest.importorskip("distributed")
    assert executors.make("dask-local", jobs=2).name == "dask-local"
    assert executors.make("dask", scheduler="tcp://127.0.0.1:8786").name == "dask"


def _grade_failing_for_bob(course, sub, topics, sandbox):
    if sub.student_id == "bob":
        raise KeyError("a bug in the grader, for bob only")
    return _REAL_GRADE_JOB(course, sub, topics, sandbox)


def _grade_dying_for_bob(course, sub, topics, sandbox):
    if sub.student_id == "bob":
        os._exit(3)  # the judge process itself dies (as on a segfault)
    return _REAL_GRADE_JOB(course, sub, topics, sandbox)


@pytest.mark.parametrize(
    "kind, task, expected",
    [
        ("processes", _grade_failing_for_bob, "KeyError: 'a bug in the grader, for bob only'"),
        ("processes", _grade_dying_for_bob, "exited with status 3"),
        ("dask", _grade_failing_for_bob, "KeyError: 'a bug in the grader, for bob only'"),
    ],
    ids=["processes-raises", "processes-judge-dies", "dask-raises"],
)
def test_a_grader_failure_fails_only_its_submission(
    course, batch, reference, tmp_path, monkeypatch, request, kind, task, expected
):
    if kind == "dask":
        client, _ = request.getfixturevalue("cluster")
        course = replace(course, secret=SECRET)
        reference = tmp_path / "reference"
        grade_batch(course, [batch], reference, TOPICS, jobs=2, executor=REFERENCE)
        executor = DaskExecutor(client=client, send_secret=False, retries=1)
    else:
        executor = kind
    out = tmp_path / "out"
    monkeypatch.setattr(grader.batch, "grade_job", task)  # what the executor is handed
    grade_batch(course, [batch], out, TOPICS, jobs=2, executor=executor)
    rows = _gradebook(out)
    assert rows["bob"]["status"] == "grader_error"
    assert {s for s, r in rows.items() if r["status"] == "graded"} == set(CLASS) - {"bob"}
    assert expected in (out / "bob" / "staff.log").read_text()
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert [t["name"] for t in bob["tests"]] == ["grader/internal: autograder failed"]
    for student in set(CLASS) - {"bob"}:  # the others as graded alone
        assert compare_results.results_without_timings(
            out / student / "results.json"
        ) == compare_results.results_without_timings(reference / student / "results.json")
    monkeypatch.undo()
    grade_batch(course, [batch], out, TOPICS, jobs=2, executor=executor)  # regrades bob only
    assert compare_results.differences(reference, out) == []


class _Recording:
    """Judge processes, recording the topics of each job they are given."""

    name = "processes"

    def __init__(self, jobs: int) -> None:
        self.jobs, self.given = jobs, []
        self._inner = executors.make("processes", jobs)

    def run(self, grade, course, sandbox, jobs, on_done):
        self.given = [(job.sub.student_id, job.topics) for job in jobs]
        self._inner.run(grade, course, sandbox, jobs, on_done)


SPLIT_TOPICS = ("losses", "dropout")


@pytest.fixture(scope="module")
def one_student(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one")
    shutil.copytree(EXAMPLES / "bob", folder / "bob")
    return folder


def test_one_submission_and_two_judges_is_graded_topic_by_topic_as_if_at_once(
    course, one_student, tmp_path
):
    alone = tmp_path / "alone"
    grade_batch(course, [one_student], alone, SPLIT_TOPICS, jobs=1, executor="threads")
    split = _Recording(2)
    out = tmp_path / "out"
    grade_batch(course, [one_student], out, SPLIT_TOPICS, jobs=2, executor=split)
    assert split.given == [("bob", ("losses",)), ("bob", ("dropout",))]
    assert compare_results.differences(alone, out) == []
    assert _files(out) == _files(alone)

    def names(folder):  # in course order, as the student reads them
        return [t["name"] for t in json.loads((folder / "bob/results.json").read_text())["tests"]]

    assert names(out) == names(alone)
    journal = json.loads((out / "bob" / "journal.json").read_text())
    assert sorted(journal["fingerprints"]) == sorted(SPLIT_TOPICS)


def test_more_submissions_than_judges_are_not_split(course, batch):
    from grader.batch import _parts, _Plan

    plans = [_Plan(s, SPLIT_TOPICS, {}, None) for s in (object(), object())]
    assert _parts(plans, 2) == [(0, SPLIT_TOPICS), (1, SPLIT_TOPICS)]
    assert _parts(plans, 3) == [
        (0, ("losses",)),
        (0, ("dropout",)),
        (1, ("losses",)),
        (1, ("dropout",)),
    ]
    assert _parts([_Plan(object(), (), {}, None)], 2) == [(0, ())]  # nothing to split


def _grade_failing_in_dropout(course, sub, topics, sandbox):
    if "dropout" in topics:
        raise KeyError("a bug in the grader, in dropout only")
    return _REAL_GRADE_JOB(course, sub, topics, sandbox)


def test_a_grader_failure_in_one_topic_of_a_split_submission_fails_it_whole(
    course, one_student, tmp_path, monkeypatch
):
    alone = tmp_path / "alone"
    grade_batch(course, [one_student], alone, SPLIT_TOPICS, jobs=1, executor="threads")
    out = tmp_path / "out"
    monkeypatch.setattr(grader.batch, "grade_job", _grade_failing_in_dropout)
    grade_batch(course, [one_student], out, SPLIT_TOPICS, jobs=2, executor="threads")
    assert _gradebook(out)["bob"]["status"] == "grader_error"  # as when graded at once
    assert "a bug in the grader, in dropout only" in (out / "bob" / "staff.log").read_text()
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert [t["name"] for t in bob["tests"]] == ["grader/internal: autograder failed"]
    monkeypatch.undo()
    grade_batch(course, [one_student], out, SPLIT_TOPICS, jobs=2, executor="threads")
    assert compare_results.differences(alone, out) == []  # regraded whole


def _grade_killing_its_worker_once(course, sub, topics, sandbox):
    if sub.student_id == "bob":
        marks = Path(os.environ["GRADER_TEST_MARKS"])
        (marks / f"bob-{os.getpid()}").touch()
        if len(list(marks.glob("bob-*"))) == 1:  # the first attempt: its worker dies now
            os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_GRADE_JOB(course, sub, topics, sandbox)


def test_a_dask_worker_killed_mid_batch_is_retried_elsewhere(
    course, batch, cluster, tmp_path, monkeypatch
):
    client, marks = cluster
    for old in marks.iterdir():
        old.unlink()
    course = replace(course, secret=SECRET)
    reference = tmp_path / "reference"
    grade_batch(course, [batch], reference, TOPICS, jobs=2, executor=REFERENCE)
    monkeypatch.setattr(grader.batch, "grade_job", _grade_killing_its_worker_once)
    out = tmp_path / "out"
    executor = DaskExecutor(client=client, send_secret=False)
    grade_batch(course, [batch], out, TOPICS, jobs=2, executor=executor)
    attempts = sorted(marks.glob("bob-*"))
    assert len(attempts) == 2  # killed once, graded by another worker process
    assert compare_results.differences(reference, out) == []


def test_remote_workers_grade_with_their_own_secret_which_never_travels(course, cluster):
    client, _ = cluster
    course = replace(course, secret=SECRET)
    assert SECRET.encode() not in pickle.dumps(pack_course(course, send_secret=False))
    assert SECRET.encode() in pickle.dumps(pack_course(course, send_secret=True))


def test_a_worker_with_another_secret_is_refused_before_grading(course, batch, cluster, tmp_path):
    client, _ = cluster
    course = replace(course, secret="not the workers' secret")
    executor = DaskExecutor(client=client, send_secret=False)
    with pytest.raises(ExecutorError, match="has another course secret"):
        grade_batch(course, [batch], tmp_path / "out", TOPICS, executor=executor)
    assert not list((tmp_path / "out").glob("*/results.json"))


def test_dask_without_distributed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ExecutorError, match="pip install"):
        executors.make("dask-local", jobs=2)
    with pytest.raises(ExecutorError, match="--scheduler"):
        executors.make("dask", jobs=2)
    with pytest.raises(ExecutorError, match="is for --executor dask"):
        executors.make("threads", scheduler="tcp://127.0.0.1:8786")


def test_the_cli_reports_an_unusable_executor(tmp_path):
    # in a process of its own: the command makes itself a subreaper, which this one must not be
    cmd = [sys.executable, "-m", "grader", "grade", str(EXAMPLES / "alice"), "--out"]
    done = subprocess.run(
        [*cmd, str(tmp_path), "--executor", "dask"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert "--executor dask needs --scheduler ADDRESS" in done.stderr
    assert "Traceback" not in done.stderr

"""Nothing a submission is made of stops the batch: each malformed or hostile submission of the
matrix (``malformed_cases``) gets its own result with its reason, in one ``grader grade`` run
beside a correct submission that is graded fully. ``scripts/malformed_matrix.py`` prints the
same run as a table."""

from __future__ import annotations

import json

import pytest

from grader.layouts.kit import discover
from tests.layouts import malformed_cases as cases

REFUSED = [c for c in cases.CASES if c.status == "refused"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed") / "batch"
    skipped = cases.build(folder)
    return folder, skipped


@pytest.fixture(scope="module")
def graded(batch, tmp_path_factory):
    folder, _ = batch
    out = tmp_path_factory.mktemp("malformed-out") / "out"
    done = cases.grade(folder, out)
    return done, out, cases.results(out)


def _skip_if_not_built(batch, case: cases.Case) -> None:
    if case.file in batch[1]:
        pytest.skip(f"{case.file}: {batch[1][case.file]}")


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.file)
def test_each_malformed_submission_is_refused_with_its_reason(batch, tmp_path, case):
    _skip_if_not_built(batch, case)
    subs = {s.student_id: s for s in discover([batch[0]], (cases.TOPIC,), tmp_path)}
    sub = subs[case.student]
    assert sub.refused and case.reason in sub.refused, sub.refused
    assert subs["alice"].refused is None and set(subs["alice"].modules) == {cases.TOPIC}


def test_one_run_exits_0_and_grades_the_correct_submission_fully(graded):
    done, out, found = graded
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    score, top = found["alice"].score.split("/")
    assert found["alice"].status == "graded" and score == top and float(top) > 0
    assert found["onefolder"].reason == "full marks"  # a zip of one folder: that folder
    assert not (out / ".grader-scratch").exists()


@pytest.mark.parametrize("case", cases.CASES, ids=lambda c: c.file)
def test_each_case_gets_its_own_result_in_the_one_run(batch, graded, case):
    _skip_if_not_built(batch, case)
    _, out, found = graded
    got = cases.result_of(case, found)
    assert got is not None, f"no result for {case.file}: {sorted(found)}"
    assert got.status == case.status and case.reason in got.reason, got
    assert got.score.split("/")[1] == found["alice"].score.split("/")[1]  # the same maximum
    if case.student != "onefolder":
        assert got.score.startswith("0/"), got
    data = json.loads((out / got.student / "results.json").read_text())
    assert data["extra_data"]["status"] == case.status


def test_a_collision_id_cannot_take_a_real_one_and_is_in_the_gradebook(graded):
    _, out, found = graded
    assert found["one_id"].reason == "full marks"  # "one id.zip": alice's code, its own id
    (other,) = [s for s in found if s.startswith("one_id~")]
    text = (out / "gradebook.csv").read_text()
    row = next(line for line in text.splitlines() if line.startswith(other + ","))
    assert row.endswith("/one_id.zip")  # the mapping: id -> the file it was read from

"""The same submission graded twice gives the same results.json, byte for byte but timings."""

from __future__ import annotations

import json

from grader.layouts.kit import submission
from grader.pipeline import grade_submission
from grader.reports import gradescope


def _without_timing(report) -> str:
    data = gradescope.results_json(report)
    data.pop("execution_time")
    return json.dumps(data, sort_keys=True)


def test_grading_twice_is_identical(course, tmp_path):
    source = (course.solutions_dir / "losses.py").read_text()
    buggy = source.replace("dW = X.T.dot(dscores) / num_train", "dW = X.T.dot(dscores) / 7", 1)
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "losses.py").write_text(buggy)
    first = grade_submission(course, submission(folder, ("losses",), tmp_path), ("losses",))
    second = grade_submission(course, submission(folder, ("losses",), tmp_path), ("losses",))
    assert 0 < first.score < first.max_score
    assert _without_timing(first) == _without_timing(second)


def test_the_secret_changes_inputs_but_not_correct_scores(course, tmp_path):
    from dataclasses import replace

    other = replace(course, secret="another-course-secret")
    sub = submission(course.solutions_dir, ("losses",), tmp_path)
    a = grade_submission(course, sub, ("losses",))
    b = grade_submission(other, sub, ("losses",))
    assert a.score == b.score == a.max_score
    assert a.seed_id != b.seed_id

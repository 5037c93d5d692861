"""The same submission graded twice gives the same results.json, byte for byte but timings."""

from __future__ import annotations

import json

import pytest
import topic_files

from grader import registry
from grader.layouts.kit import submission
from grader.pipeline import grade_submission
from grader.reports import gradescope


def _without_timing(report) -> str:
    data = gradescope.results_json(report)
    data.pop("execution_time")
    return json.dumps(data, sort_keys=True)


def test_grading_twice_is_identical(course, tmp_path, planned):
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


def _without_timings(report) -> str:
    """results.json without execution_time and without the output of speed checks (the only
    check kind that reports measured times)."""
    data = gradescope.results_json(report)
    data.pop("execution_time")
    for test in data["tests"]:
        if test.get("extra_data", {}).get("kind") == "speed":
            test.pop("output", None)
    return json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("topic", registry.available())
def test_each_topic_grades_a_buggy_submission_identically_twice(
    course, tmp_path, topic, monkeypatch
):
    """Once with the topic's planned calls (grader.judge.plan), once with every call live."""
    folder = topic_files.example_module(topic).parent  # the example with the topic's mistakes
    monkeypatch.delenv("GRADER_PLAN", raising=False)
    first = grade_submission(course, submission(folder, (topic,), tmp_path), (topic,))
    monkeypatch.setenv("GRADER_PLAN", "off")
    second = grade_submission(course, submission(folder, (topic,), tmp_path), (topic,))
    assert 0 < first.score < first.max_score
    assert _without_timings(first) == _without_timings(second)

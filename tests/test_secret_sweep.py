"""The reference earns full marks whatever the course secret (so no check is flaky for some
course). Slow: run with --runslow; the default run covers the shipped secret via validate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.layouts.kit import submission
from grader.pipeline import grade_submission


@pytest.mark.slow
@pytest.mark.parametrize("index", range(20))
def test_reference_full_marks_for_any_secret(course, tmp_path, index):
    other = replace(course, secret=f"sweep-{index}")
    report = grade_submission(
        other, submission(course.solutions_dir, course.topics, tmp_path), course.topics
    )
    failed = [(r.check_id, r.message) for r in report.results if r.counts and not r.passed]
    assert failed == []

"""bob's feedback files: graded as one batch (losses and backprop), his results.json names the
mistake of each failing visible check and his feedback.md lists the mistakes of each topic.

bob (examples/submissions/bob) is correct except for five bugs; what his checks say about each
one is tested per topic, in tests/topics/test_losses_example.py and test_backprop_example.py,
whose ``MISTAKES`` (function -> the mistake its bug matches) this file reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import topic_files

from grader.batch import grade_batch
from grader.pipeline import CheckResult, SubmissionReport

TOPICS = ("losses", "backprop")
BOB = topic_files.examples() / "bob"

# topic -> function -> the misconception its bug matches
MISTAKES = {topic: topic_files.load(topic_files.example_test(topic)).MISTAKES for topic in TOPICS}


@pytest.fixture(scope="module")
def graded(fast_course, tmp_path_factory) -> tuple[Path, SubmissionReport]:
    out = tmp_path_factory.mktemp("bob")
    (report,) = grade_batch(fast_course, [BOB], out, topics=TOPICS)
    return out / "bob", report


def failed(report: SubmissionReport) -> list[CheckResult]:
    return [r for r in report.results if not r.passed and r.counts]


def test_the_example_of_both_topics_is_bob():
    assert {topic_files.example_module(topic).parent for topic in TOPICS} == {BOB}


def test_results_json_names_mistakes_on_visible_checks_only(graded):
    folder, bob = graded
    tests = {t["name"]: t for t in json.loads((folder / "results.json").read_text())["tests"]}
    for result in failed(bob):
        test = tests[result.check_id]
        if result.visibility == "visible":
            assert test["extra_data"].get("misconception") == result.misconception
            assert test["output"] == result.message
        else:
            assert "misconception" not in test["extra_data"]
            assert test["output"] == "hidden check: failed"


def test_feedback_md_lists_the_mistakes_per_topic(graded):
    folder, _ = graded
    feedback = (folder / "feedback.md").read_text()
    losses, backprop = feedback.split("## backprop")
    for topic, section in (("losses", losses), ("backprop", backprop)):
        spotted = next(ln for ln in section.splitlines() if ln.startswith("Known mistakes"))
        for mistake in MISTAKES[topic].values():
            assert mistake in spotted
    assert "Hint: skip j == y[i]" in losses
    assert "Hint: multiply dout by the mask (x > 0)" in backprop

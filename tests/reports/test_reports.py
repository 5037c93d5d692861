"""results.json (schema-valid, hidden checks say name and status only), feedback, gradebook."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from grader.checks.base import Outcome
from grader.layouts.kit import submission
from grader.pipeline import grade_submission
from grader.reports import feedback, gradebook, gradescope
from grader.reports.files import write_atomic

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "grader/reports/results.schema.json").read_text()
)


@pytest.fixture(scope="module")
def stub_report(course, tmp_path_factory):
    sub = submission(course.assignments_dir, course.topics, tmp_path_factory.mktemp("s"))
    return grade_submission(course, sub, ("losses",))


def test_results_json_validates_and_scores_add_up(stub_report):
    data = gradescope.results_json(stub_report)
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == sum(t["score"] for t in data["tests"]) == 0
    assert data["max_score"] == sum(t["max_score"] for t in data["tests"]) > 0
    assert data["extra_data"]["topics"]["losses"]["max_score"] == data["max_score"]
    assert data["extra_data"]["isolation_level"].startswith("process")
    assert len(data["extra_data"]["seed_id"]) == 12


def test_hidden_checks_show_name_and_status_only(stub_report):
    data = gradescope.results_json(stub_report)
    hidden = [t for t in data["tests"] if t["visibility"] == "hidden"]
    assert hidden
    for test in hidden:
        assert test["output"] == "hidden check: failed"
        assert "misconception" not in test["extra_data"]
    md = feedback.render(stub_report)
    line = next(ln for ln in md.splitlines() if "hidden: N=64" in ln)
    assert line.endswith("(hidden check)")


def test_visible_failures_explain_themselves(stub_report):
    data = gradescope.results_json(stub_report)
    visible = [t for t in data["tests"] if t["visibility"] == "visible"]
    assert all(t["extra_data"]["outcome"] == "not_implemented" for t in visible)
    assert all("NotImplementedError" in t["output"] for t in visible)


def test_grader_error_entry_is_schema_valid(stub_report):
    broken = replace(stub_report, grader_error="KeyError: 'boom'")
    data = gradescope.results_json(broken)
    jsonschema.validate(data, SCHEMA)
    assert data["tests"][-1]["name"] == "grader/internal: autograder failed"


def test_not_run_checks_are_excluded_from_the_maximum(stub_report):
    first = stub_report.results[0]
    not_run = replace(
        stub_report,
        results=(replace(first, outcome=Outcome.NOT_RUN, counts=False), *stub_report.results[1:]),
    )
    assert not_run.max_score == stub_report.max_score - first.max_points
    data = gradescope.results_json(not_run)
    assert data["tests"][0]["max_score"] == 0


def test_gradebook_has_a_row_per_student_and_topic_columns(stub_report):
    other = replace(stub_report, student_id="zed")
    rows = list(csv.reader(io.StringIO(gradebook.render([other, stub_report], ("losses",)))))
    assert rows[0][:4] == ["student_id", "score", "max_score", "losses"]
    assert [r[0] for r in rows[1:]] == [
        "stubs" if stub_report.student_id == "stubs" else stub_report.student_id,
        "zed",
    ]


def test_write_atomic_leaves_no_partial_file(tmp_path):
    target = tmp_path / "a" / "results.json"
    write_atomic(target, "{}")
    assert target.read_text() == "{}" and not list(target.parent.glob(".*tmp"))


def test_a_grader_failure_on_a_check_is_flagged_for_regrading(stub_report):
    first = replace(stub_report.results[0], grader_fault=True)
    report = replace(stub_report, results=(first, *stub_report.results[1:]))
    data = gradescope.results_json(report)
    assert data["tests"][0]["extra_data"]["grader_error"] is True
    assert data["extra_data"]["status"] == "grader_error"
    rows = list(csv.reader(io.StringIO(gradebook.render([report], ("losses",)))))
    assert rows[1][rows[0].index("status")] == "grader_error"
    assert gradescope.results_json(stub_report)["extra_data"]["status"] == "graded"


def test_not_run_counts_toward_the_maximum_only_when_configured(course):
    """gpu_checks_count_without_gpu makes GPU checks that could not run count; a check of
    another kind that could not run here (a simulated timer on a CUDA machine) never does."""
    from grader import registry
    from grader.checks.base import Kind, Verdict
    from grader.pipeline import _result

    spec = registry.topic("cuda_timing")
    gpu = next(p for p in course.plans["cuda_timing"] if spec.check(p.check_id).kind is Kind.GPU)
    other = next(p for p in course.plans["cuda_timing"] if spec.check(p.check_id).kind != Kind.GPU)
    not_run = Verdict(Outcome.NOT_RUN, "not run: no CUDA device")
    for plan in (gpu, other):
        assert not _result(plan, spec.check(plan.check_id), not_run, 0.0).counts
    assert _result(gpu, spec.check(gpu.check_id), not_run, 0.0, not_run_counts=True).counts
    assert not _result(other, spec.check(other.check_id), not_run, 0.0, not_run_counts=True).counts
    plan, check = other, spec.check(other.check_id)
    assert _result(plan, check, Verdict(Outcome.WRONG), 0.0).counts


def test_checks_this_machine_cannot_run_are_not_run_for_everyone(course, tmp_path):
    """Submitted or not, a check that cannot run here is not_run: every student of the batch
    has the same maximum score."""
    from grader.pipeline import grade_topic, sandbox_for

    results, _ = grade_topic(course, "cuda_timing", None, None, sandbox_for(course))
    not_run = [r for r in results if r.outcome is Outcome.NOT_RUN]
    assert not_run and all(not r.counts for r in not_run)
    submitted = tmp_path / "cuda_timing.py"
    submitted.write_text((course.solutions_dir / "cuda_timing.py").read_text())
    graded, _ = grade_topic(course, "cuda_timing", submitted, None, sandbox_for(course))
    assert sum(r.max_points for r in results if r.counts) == sum(
        r.max_points for r in graded if r.counts
    )
    assert {r.check_id for r in not_run} == {
        r.check_id for r in graded if r.outcome is Outcome.NOT_RUN
    }


def test_feedback_collapses_a_missing_module_and_shows_not_run_checks(course, tmp_path):
    sub = tmp_path / "zoe"
    sub.mkdir()
    (sub / "cuda_timing.py").write_text((course.solutions_dir / "cuda_timing.py").read_text())
    topics = ("losses", "cuda_timing")
    report = grade_submission(course, submission(sub, topics, tmp_path / "scratch"), topics)
    md = feedback.render(report)
    losses = len(course.plans["losses"])
    assert f"losses.py was not submitted: 0 of {losses} checks." in md
    assert "losses/svm_loss_naive" not in md  # no line per check of a missing module
    not_run = sum(1 for r in report.results if r.outcome is Outcome.NOT_RUN)
    counted = sum(1 for r in report.results if r.topic == "cuda_timing" and r.counts)
    assert f"{counted} of {counted} checks passed ({not_run} not run on this machine)." in md
    assert md.count("**NOT RUN**") == not_run


def _breakages(data: dict) -> list[tuple[str, dict]]:
    """Documents that break the schema in one place each (every kind of keyword it uses)."""
    import copy

    def broken(what: str, change) -> tuple[str, dict]:
        doc = copy.deepcopy(data)
        change(doc)
        return what, doc

    return [
        broken("score missing", lambda d: d.pop("score")),
        broken("negative score", lambda d: d.update(score=-1)),
        broken("score a string", lambda d: d.update(score="10")),
        broken("bad visibility", lambda d: d.update(visibility="sometimes")),
        broken("test score negative", lambda d: d["tests"][0].update(score=-0.5)),
        broken("test name a number", lambda d: d["tests"][0].update(name=3)),
        broken("test status unknown", lambda d: d["tests"][0].update(status="maybe")),
        broken("tests not a list", lambda d: d.update(tests={})),
        broken("extra_data missing", lambda d: d.pop("extra_data")),
        broken("an unknown top-level key", lambda d: d.update(surprise=1)),
        broken("seed id malformed", lambda d: d["extra_data"].update(seed_id="no!")),
    ]


def test_the_packaged_schema_is_a_valid_schema():
    # grading compiles it without asking jsonschema (kept off the grading path): ask here
    jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)


def test_grading_never_imports_jsonschema():
    import subprocess
    import sys

    code = (
        "import sys; from grader.reports import gradescope; "
        "gradescope.validator(); print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_fast_validator_agrees_with_jsonschema_on_the_contract(stub_report):
    """results.json is validated with a compiled validator (fastjsonschema, draft 7 keywords);
    the contract is draft 2020-12: on valid output and on each breakage both must agree."""
    data = gradescope.results_json(stub_report)
    gradescope.validate(data)  # valid for both
    jsonschema.validate(data, SCHEMA)
    disagreements = []
    for what, doc in _breakages(data):
        by_contract = not jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
        try:
            gradescope.validate(doc)
            by_kit = False
        except jsonschema.ValidationError:
            by_kit = True
        if by_contract != by_kit:
            disagreements.append(what)
    assert disagreements == []
    invalid = [
        w
        for w, doc in _breakages(data)
        if not jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    ]
    assert len(invalid) >= 8  # the breakages really break the contract

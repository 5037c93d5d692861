"""The example submissions in examples/submissions, graded as one batch: what each one earns.

One batch (``fast_course``: 2 s call and import deadlines, two jobs) is graded once per module;
every test reads its reports. ``alice`` is a correct submission, ``bob`` makes realistic
mistakes (his feedback is tested in test_feedback_misconceptions.py), carol to heidi make the
realistic mistakes of the later topics (tested in tests/topics/test_<topic>_example.py; here only
their losses and backprop, which they do not submit), and every other folder is a robustness
case: a ``losses.py`` with correct ``svm_loss_vectorized`` and ``softmax_loss_vectorized``
except for one misbehaviour, named by the folder.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import jsonschema
import pytest
import topic_files

from grader import registry
from grader.batch import grade_batch
from grader.pipeline import CheckResult, SubmissionReport

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions"
SCHEMA = json.loads((REPO / "grader" / "reports" / "results.schema.json").read_text())
TOPICS = ("losses", "backprop")
SVM = "svm_loss_vectorized"
SOFTMAX = "softmax_loss_vectorized"
HYGIENE = ("inputs unchanged", "deterministic")  # checks that do not compare values
DEADLINE_S = 2.0  # fast_course's call_timeout_s
# Realistic students (alice, correct, and the example of each topic's mistakes); every other
# folder is a robustness case.
STUDENTS = ("alice", *sorted(filter(None, map(topic_files.example_student, registry.available()))))
ROBUSTNESS = sorted(p.name for p in EXAMPLES.iterdir() if p.name not in STUDENTS)


# -- the batch, graded once ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch(fast_course, tmp_path_factory) -> tuple[Path, dict[str, SubmissionReport]]:
    out = tmp_path_factory.mktemp("robustness")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("GRADER_PLAN", raising=False)  # as graded by default: planned calls on
        reports = grade_batch(fast_course, [EXAMPLES], out, topics=TOPICS, jobs=2)
    return out, {r.student_id: r for r in reports}


@pytest.fixture(scope="module")
def reports(batch) -> dict[str, SubmissionReport]:
    return batch[1]


def results(report: SubmissionReport, function: str) -> list[CheckResult]:
    found = [r for r in report.results if r.function == function]
    assert found, f"{report.student_id}: no checks for {function}"
    return found


def case(result: CheckResult) -> str:
    return result.check_id.split(": ", 1)[1]


def value_checks(report: SubmissionReport, function: str) -> list[CheckResult]:
    """The checks of ``function`` that compare returned values (all but the hygiene ones)."""
    return [r for r in results(report, function) if case(r) not in HYGIENE]


def assert_outcome(checks: Iterable[CheckResult], outcome: str, *in_message: str) -> None:
    for r in checks:
        assert r.outcome.value == outcome, f"{r.check_id}: {r.outcome.value}: {r.message}"
        for text in in_message:
            assert text in r.message, f"{r.check_id}: {text!r} not in {r.message!r}"


def assert_all_passed(report: SubmissionReport, function: str) -> None:
    assert_outcome(results(report, function), "passed")


# -- every submission --------------------------------------------------------------------------
def test_every_example_is_graded_with_a_schema_valid_results_json(batch):
    out, reports = batch
    assert sorted(reports) == sorted(p.name for p in EXAMPLES.iterdir())
    for student, report in reports.items():
        data = json.loads((out / student / "results.json").read_text())
        jsonschema.validate(data, SCHEMA)
        assert data["score"] == report.score
        assert [t["name"] for t in data["tests"]] == [r.check_id for r in report.results]
        assert (out / student / "feedback.md").read_text().startswith(f"# Feedback for {student}")
        assert (out / student / "staff.log").exists()
        assert report.grader_error is None, f"{student}: {report.grader_error}"


def test_gradebook_has_one_row_per_example(batch):
    out, reports = batch
    with (out / "gradebook.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["student_id"] for r in rows] == sorted(reports)
    assert all(r["status"] == "graded" for r in rows)


def test_alice_earns_full_marks(reports):
    alice = reports["alice"]
    assert alice.max_score > 0
    assert alice.score == alice.max_score
    failed = [(r.check_id, r.outcome.value) for r in alice.results if not r.passed]
    assert failed == []
    assert not any(r.warnings for r in alice.results)


@pytest.mark.parametrize("student", ROBUSTNESS)
def test_robustness_cases_submit_no_backprop(reports, student):
    backprop = [r for r in reports[student].results if r.topic == "backprop"]
    assert backprop
    assert_outcome(backprop, "not_submitted", "backprop.py was not submitted")


@pytest.mark.parametrize(
    "student", [s for s in ROBUSTNESS if s not in ("syntax_error", "exit_at_import")]
)
def test_functions_a_module_lacks_are_not_submitted(reports, student):
    defined = {SVM, SOFTMAX} | ({"l2_regularization"} if student == "os_exit" else set())
    lacking = [
        r for r in reports[student].results if r.topic == "losses" and r.function not in defined
    ]
    assert lacking
    assert_outcome(lacking, "not_submitted", "is not defined in losses.py")


# -- a module that cannot be imported --------------------------------------------------------------
def test_syntax_error_is_an_exception_on_every_losses_check(reports):
    losses = [r for r in reports["syntax_error"].results if r.topic == "losses"]
    assert_outcome(losses, "exception", "importing losses.py", "SyntaxError")
    assert reports["syntax_error"].score == 0


def test_sys_exit_at_import_is_an_exception_on_every_losses_check(reports):
    losses = [r for r in reports["exit_at_import"].results if r.topic == "losses"]
    assert_outcome(losses, "exception", "importing losses.py", "sys.exit")
    assert reports["exit_at_import"].score == 0


# -- one bad function, the other still graded ----------------------------------------------------
def test_missing_function_is_not_submitted(reports):
    report = reports["missing_function"]
    assert_outcome(results(report, SOFTMAX), "not_submitted", SOFTMAX, "not defined")
    assert_all_passed(report, SVM)


def test_wrong_signature_is_an_exception_naming_both_signatures(reports):
    report = reports["wrong_signature"]
    assert_outcome(
        results(report, SVM), "exception", "wrong signature", "reg", "svm_loss_vectorized(W, X, y)"
    )
    assert_all_passed(report, SOFTMAX)


def test_returning_none_is_bad_output(reports):
    report = reports["returns_none"]
    assert_outcome(value_checks(report, SOFTMAX), "bad_output", "got None")
    assert_all_passed(report, SVM)


def test_transposed_gradient_is_bad_output_naming_both_shapes(reports):
    report = reports["wrong_shape"]
    for r in value_checks(report, SVM):
        assert r.outcome.value == "bad_output", r.check_id
        assert "dW: expected shape" in r.message, r.message
    first = results(report, SVM)[0]
    assert "expected shape (5, 4), got (4, 5)" in first.message
    assert_all_passed(report, SOFTMAX)


def test_nan_outputs_earn_no_value_check_and_say_so(reports):
    report = reports["returns_nan"]
    assert_outcome(value_checks(report, SOFTMAX), "wrong")  # numeric gradients included
    reference = [r for r in results(report, SOFTMAX) if r.kind == "reference"]
    visible = [r for r in reference if r.visibility == "visible"]
    assert visible
    assert_outcome(visible, "wrong", "yours nan", "NaN/inf where the expected value is finite")
    assert_all_passed(report, SVM)


def test_exception_in_student_code_is_reported_with_its_type(reports):
    report = reports["raises"]
    assert_outcome(results(report, SVM), "exception", SVM, "ValueError", "shapes do not line up")
    assert_all_passed(report, SOFTMAX)


def test_infinite_loop_costs_one_deadline_and_spares_the_other_function(reports):
    report = reports["infinite_loop"]
    softmax = results(report, SOFTMAX)
    assert_outcome(softmax, "timeout")
    assert f"did not return within {DEADLINE_S:g} s" in softmax[0].message
    assert_outcome(softmax[1:], "timeout", "timed out earlier in this grading; not called again")
    assert sum(r.elapsed for r in softmax) < 2 * DEADLINE_S
    assert_all_passed(report, SVM)


def test_memory_bomb_is_a_memory_outcome(reports):
    report = reports["memory_bomb"]
    assert_outcome(results(report, SVM), "memory", "ran out of memory")
    assert_all_passed(report, SOFTMAX)


@pytest.fixture(scope="module")
def flooded(course, tmp_path_factory) -> SubmissionReport:
    """prints_100mb graded with the course's own limits: the batch's 2 s per call (cheap
    timeouts for the loops) left its 24-call gradient batches (2.4 GB printed, 3.2 s) too
    little on a machine that is also running other tests."""
    out = tmp_path_factory.mktemp("flooded")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("GRADER_PLAN", raising=False)  # as graded by default: planned calls on
        (report,) = grade_batch(course, [EXAMPLES / "prints_100mb"], out, topics=TOPICS)
    return report


def test_printing_100_mb_per_call_still_passes(flooded):
    report = flooded
    assert_all_passed(report, SVM)
    assert_all_passed(report, SOFTMAX)


def test_printed_output_is_capped_in_every_report(batch):
    out, reports = batch
    report = reports["prints_100mb"]
    assert "output dropped" in report.student_output
    assert len(report.student_output) < 1024 * 1024
    assert (out / "prints_100mb" / "staff.log").stat().st_size < 1024 * 1024
    assert (out / "prints_100mb" / "results.json").stat().st_size < 1024 * 1024
    assert "xxxxxxxx" not in (out / "prints_100mb" / "results.json").read_text()


def test_os_exit_crashes_only_its_checks_and_the_worker_is_replaced(reports):
    report = reports["os_exit"]
    crashed = results(report, SOFTMAX)
    assert_outcome(crashed, "crashed")
    # the first crashes say why; after three, the function is not called again (no more restarts)
    assert all("exited with status 0" in r.message for r in crashed[:3])
    assert all("not called again" in r.message for r in crashed[3:])
    assert len(report.worker_start_s) == 4  # the first worker and three replacements
    assert_all_passed(report, SVM)
    # l2_regularization is graded after softmax_loss_vectorized: it needs a fresh worker
    assert_all_passed(report, "l2_regularization")


def test_patching_numpy_in_the_worker_gains_nothing(reports):
    report = reports["monkeypatch_numpy"]
    for fn in (SVM, SOFTMAX):
        assert_outcome(value_checks(report, fn), "wrong")
    # wrong values earn nothing, hygiene included: "inputs unchanged" and "deterministic" count
    # only for a function right at its first reference case (grader.checks.anchor)
    assert report.score == 0


def test_lying_ndarray_subclass_is_bad_output(reports):
    report = reports["evil_ndarray"]
    assert_outcome(value_checks(report, SVM), "bad_output", "LyingFloat", "not plain data")
    assert_outcome(value_checks(report, SOFTMAX), "bad_output", "ndarray subclass", "Liar")


@pytest.mark.parametrize(
    ("student", "function"),
    [
        ("evil_ndarray", SVM),
        ("evil_ndarray", SOFTMAX),
        ("returns_none", SOFTMAX),
        ("wrong_shape", SVM),
    ],
)
def test_malformed_output_never_passes_any_check(reports, student, function):
    passed = [r.check_id for r in results(reports[student], function) if r.passed]
    assert passed == []


def test_input_mutation_is_a_warning_on_the_mutation_check_only(reports):
    report = reports["mutates_inputs"]
    assert_all_passed(report, SVM)
    assert_all_passed(report, SOFTMAX)
    warned = [r for r in report.results if r.warnings]
    assert [r.check_id for r in warned] == [f"losses/{SVM}: inputs unchanged"]
    (warning,) = warned[0].warnings
    assert "modified its input(s) X" in warning
    assert report.score == sum(r.max_points for r in report.results if r.function in (SVM, SOFTMAX))


def test_shipped_numpy_and_conftest_are_ignored(reports):
    report = reports["ships_conftest_and_numpy"]
    assert_all_passed(report, SVM)
    assert_all_passed(report, SOFTMAX)


# -- isolation between submissions and determinism ---------------------------------------------
def per_check(report: SubmissionReport) -> list[tuple]:
    return [
        (r.check_id, r.outcome.value, r.points, r.max_points, r.message, r.misconception)
        for r in report.results
    ]


def test_robustness_cases_do_not_change_alices_results(fast_course, reports, tmp_path):
    (alone,) = grade_batch(fast_course, [EXAMPLES / "alice"], tmp_path, topics=TOPICS)
    assert per_check(alone) == per_check(reports["alice"])


def results_without_timing(path: Path) -> dict:
    data = json.loads(path.read_text())
    data.pop("execution_time")
    return data


def test_grading_twice_gives_the_same_results(fast_course, batch, tmp_path):
    out, reports = batch
    subset = ["alice", "bob", "os_exit", "monkeypatch_numpy"]
    again = grade_batch(fast_course, [EXAMPLES / s for s in subset], tmp_path, TOPICS, jobs=2)
    assert [r.student_id for r in again] == sorted(subset)
    for report in again:
        assert per_check(report) == per_check(reports[report.student_id])
        first = results_without_timing(out / report.student_id / "results.json")
        second = results_without_timing(tmp_path / report.student_id / "results.json")
        assert first == second


# -- the command line -----------------------------------------------------------------------------
def test_cli_grades_a_folder_of_submissions(tmp_path):
    subs = tmp_path / "submissions"
    chosen = ["alice", "missing_function", "raises"]
    for name in chosen:
        shutil.copytree(EXAMPLES / name, subs / name)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out), "--jobs", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (out / "gradebook.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["student_id"] for r in rows] == chosen
    alice = next(r for r in rows if r["student_id"] == "alice")
    assert alice["score"] == alice["max_score"]
    for name in chosen:
        jsonschema.validate(json.loads((out / name / "results.json").read_text()), SCHEMA)

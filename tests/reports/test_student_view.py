"""What `grader check` prints, rendered at 80 and 120 columns: no word broken across lines, one
row per function for what repeats, the details, then the closing summary last."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from rich.console import Console

from grader.layouts.kit import submission
from grader.pipeline import SubmissionReport, grade_submission
from grader.reports import student_view, terminal

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
WIDTHS = (80, 120)
RULE = set("─━")


def graded(course, folder: Path, topics: tuple[str, ...], scratch: Path) -> SubmissionReport:
    sub = submission(folder, topics, scratch)
    return grade_submission(course, sub, topics, only_public=True)


@pytest.fixture(scope="module")
def reports(fast_course) -> dict[str, SubmissionReport]:
    # a short scratch path: bob's RuntimeWarning prints the path of his module's copy, one word
    # that cannot wrap, and pytest's own temporary folders (an xdist worker's longest) would
    # make it wider than 80 columns
    with tempfile.TemporaryDirectory(prefix="views-") as folder:
        return _graded_examples(fast_course, Path(folder))


def _graded_examples(fast_course, scratch: Path) -> dict[str, SubmissionReport]:
    found = {
        name: graded(fast_course, EXAMPLES / name, ("losses",), scratch / name)
        for name in ("bob", "raises", "mutates_inputs", "syntax_error")
    }
    stubs = fast_course.assignments_dir
    found["stubs"] = graded(fast_course, stubs, ("losses", "backprop"), scratch / "stubs")
    return found


def render(course, report: SubmissionReport, width: int, quiet: bool = False) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    hidden = student_view.hidden_checks(course, report.topics)
    terminal.check_report(report, hidden, quiet=quiet, out=console)
    return console.export_text()


def words(text: str) -> list[str]:
    return [w for w in text.split() if not set(w) <= RULE]


def flat(text: str) -> str:
    return " ".join(words(text))


def lines_of(text: str) -> list[str]:
    return text.rstrip("\n").splitlines()


def summary_part(text: str) -> list[str]:
    lines = lines_of(text)
    start = max(i for i, ln in enumerate(lines) if ln.strip(" ─") == "summary")
    return lines[start + 1 :]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("student", ["bob", "raises", "mutates_inputs", "syntax_error", "stubs"])
def test_no_line_is_wider_than_the_console_and_no_word_is_broken(course, reports, student, width):
    report = reports[student]
    text = render(course, report, width)
    assert max(len(ln) for ln in lines_of(text)) <= width
    # nothing wraps at 1000 columns: every word there is whole; a word broken at `width`
    # would leave pieces that are not words of the unwrapped output
    whole = set(words(render(course, report, 1000)))
    assert [w for w in words(text) if w not in whole] == []
    # the details and warnings read on, word for word, across the lines they are wrapped on
    for r in report.results:
        if r.counts and not r.passed and r.outcome.value != "not_implemented":
            assert flat(r.message) in flat(text), r.check_id
        for warning in r.warnings:
            assert flat(warning) in flat(text)


@pytest.mark.parametrize("width", WIDTHS)
def test_one_row_per_function_that_is_not_implemented(course, reports, width):
    report = reports["stubs"]
    text = render(course, report, width)
    lines = lines_of(text)
    for topic in report.topics:
        public = [p for p in course.plans[topic] if p.visibility == "visible"]
        functions = dict.fromkeys(p.check_id.split("/", 1)[1].split(":")[0] for p in public)
        for fn in functions:
            count = sum(p.check_id.startswith(f"{topic}/{fn}: ") for p in public)
            points = sum(p.points for p in public if p.check_id.startswith(f"{topic}/{fn}: "))
            label = f"{fn} ({count} checks)" if count > 1 else None
            rows = [ln for ln in lines if ln.startswith(label or f"{fn}: ")]
            assert len(rows) == 1, (fn, rows)
            assert "NOT IMPLEMENTED" in rows[0] and rows[0].endswith(f"0/{points:g}")
    assert "NotImplementedError" not in text  # the rows say it: no details for stubs
    summary = "\n".join(summary_part(text))
    for topic in report.topics:
        public = [p for p in course.plans[topic] if p.visibility == "visible"]
        functions = {p.check_id.split("/", 1)[1].split(":")[0] for p in public}
        assert f"not implemented yet: all {len(functions)} functions" in flat(summary)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_summary_comes_last_with_score_counts_failing_functions_and_hidden_checks(
    course, reports, width
):
    report = reports["bob"]
    text = render(course, report, width)
    lines = lines_of(text)
    summary = summary_part(text)
    start = len(lines) - len(summary)
    details = [i for i, ln in enumerate(lines) if ln.startswith(("FAIL ", "WARNING "))]
    printed = [i for i, ln in enumerate(lines) if "your program printed" in ln]
    assert details and printed and max(details + printed) < start
    losses = [r for r in report.results if r.topic == "losses"]
    passed = sum(r.passed for r in losses)
    failed = sum(not r.passed for r in losses)
    score = sum(r.points for r in losses)
    public_max = sum(p.points for p in course.plans["losses"] if p.visibility == "visible")
    hidden = [p for p in course.plans["losses"] if p.visibility != "visible"]
    assert hidden
    said = flat("\n".join(summary))
    assert said.startswith(
        f"losses {score:g} / {public_max:g} points: {passed} passed, {failed} failed"
    )
    failing = list(dict.fromkeys(r.function for r in losses if not r.passed))
    assert f"failing: {', '.join(failing)}" in said
    hidden_points = sum(p.points for p in hidden)
    assert f"hidden: {len(hidden)} checks ({hidden_points:g} points)" in said
    total = [i for i, ln in enumerate(summary) if ln.startswith("total ")]
    assert total and all(ln.startswith(" ") for ln in summary[total[0] + 1 :])


def test_mutation_warnings_are_shown(course, reports):
    report = reports["mutates_inputs"]
    (warned,) = [r for r in report.results if r.warnings]
    text = render(course, report, 80)
    row = next(ln for ln in lines_of(text) if ln.startswith(warned.check_id.split("/", 1)[1]))
    assert "PASS (warning)" in row
    assert f"WARNING {warned.check_id}" in text
    assert f"warnings (see above): {warned.function}" in flat("\n".join(summary_part(text)))


def test_the_students_line_is_shown_for_an_exception(course, reports):
    source = (EXAMPLES / "raises" / "losses.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "raise ValueError" in text)
    text = render(course, reports["raises"], 80)
    assert f"at losses.py:{line} in svm_loss_vectorized: raise ValueError(" in flat(text)
    assert "calls.py" not in text


def test_a_module_that_does_not_import_is_one_row_and_one_detail(course, reports):
    report = reports["syntax_error"]
    text = render(course, report, 80)
    assert f"all {len(report.results)} checks" in text
    assert text.count("SyntaxError") == 1


def test_the_kind_column_only_where_there_is_room(course, reports):
    header = [ln for ln in lines_of(render(course, reports["bob"], 120)) if "status" in ln]
    assert header and "kind" in header[0]
    header = [ln for ln in lines_of(render(course, reports["bob"], 80)) if "status" in ln]
    assert header and "kind" not in header[0]


def test_quiet_prints_the_summary_only(course, reports):
    text = render(course, reports["bob"], 80, quiet=True)
    assert "FAIL " not in text and "status" not in text
    assert summary_part(text)[-1].strip() and "total" in text


def test_the_cli_at_80_columns(tmp_path):
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", "losses", "--submission", str(EXAMPLES / "bob")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = lines_of(done.stdout)
    assert max(len(ln) for ln in lines) <= 80
    assert lines[-2].startswith("total ") or lines[-1].startswith("total ")
    assert done.stderr == ""  # no progress indicator when stderr is not a terminal


def progress_output(delay: float, work_s: float, terminal_like: bool = True) -> str:
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=terminal_like, width=80)
    with terminal.working("checking", delay=delay, out=out) as step:
        step("losses")
        time.sleep(work_s)
    return buffer.getvalue()


def test_a_progress_indicator_only_for_work_longer_than_the_delay_and_on_a_terminal():
    assert "checking: losses" in progress_output(delay=0.05, work_s=0.5)
    assert progress_output(delay=5.0, work_s=0.05) == ""
    assert progress_output(delay=0.0, work_s=0.3, terminal_like=False) == ""

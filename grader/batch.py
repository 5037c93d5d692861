"""Grade a batch: discover submissions, grade them in parallel, write every report.

One submission's failure (even a bug in the grader) never stops the batch: it gets a results.json
with a visible "autograder failed" entry and a staff log, and the others go on.
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader.config import Course
from grader.judge.seeds import secret_id
from grader.layouts.kit import Submission, discover
from grader.pipeline import SubmissionReport, grade_submission, sandbox_for
from grader.reports import feedback, gradebook, gradescope
from grader.reports.files import write_atomic
from grader.sandbox.process import Sandbox


def staff_log(report: SubmissionReport, crash: str = "") -> str:
    """Staff-only details: grader tracebacks, student tracebacks, the student's printed output."""
    parts = [f"# staff log for {report.student_id}", f"isolation: {report.isolation}"]
    if crash:
        parts += ["", "## grader failure", crash]
    for r in report.results:
        if r.staff:
            parts += ["", f"## {r.check_id} ({r.outcome.value})", r.staff]
    if report.student_output:
        parts += ["", "## student output (captured, capped)", report.student_output]
    return "\n".join(parts) + "\n"


def grade_one(
    course: Course, sub: Submission, topics: tuple[str, ...], out: Path, sandbox: Sandbox
) -> SubmissionReport:
    crash = ""
    try:
        report = grade_submission(course, sub, topics, sandbox=sandbox)
    except Exception:
        crash = traceback.format_exc()
        report = SubmissionReport(
            sub.student_id,
            (),
            "unknown",
            secret_id(course.secret),
            0.0,
            topics,
            grader_error=crash.strip().splitlines()[-1],
        )
    folder = out / sub.student_id
    write_atomic(folder / "results.json", gradescope.dumps(report))
    write_atomic(folder / "feedback.md", feedback.render(report))
    write_atomic(folder / "staff.log", staff_log(report, crash))
    return report


def grade_batch(
    course: Course,
    paths: list[Path],
    out: Path,
    topics: tuple[str, ...],
    jobs: int = 1,
    on_done: Callable[[SubmissionReport | None, int, int], None] | None = None,
) -> list[SubmissionReport]:
    """Grade every submission under ``paths`` into ``out``; return the reports by student id.

    ``on_done(report, done, total)`` is called once with ``None`` when the submissions are
    known, then after each one (for a progress bar).
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-unzip-") as scratch:
        submissions = discover(paths, topics, Path(scratch))
        hidden = (out.resolve(), Path(scratch), *(p.resolve() for p in paths))
        sandbox = sandbox_for(course, extra_hidden=hidden)
        reports: list[SubmissionReport] = []
        if on_done:
            on_done(None, 0, len(submissions))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(grade_one, course, s, topics, out, sandbox) for s in submissions]
            for future in as_completed(futures):
                reports.append(future.result())
                if on_done:
                    on_done(reports[-1], len(reports), len(submissions))
    gradebook.write(out / "gradebook.csv", reports, topics)
    return sorted(reports, key=lambda r: r.student_id)

"""Grade a batch: discover submissions, grade them in parallel, write every report.

One submission never stops the batch: a submission that cannot be read is graded as such
(``refused``), and a bug in the grader gives that submission a results.json with a visible
"autograder failed" entry and a staff log while the others go on.

The output folder keeps a journal (``grader.journal``): a rerun of the same command skips what
is already graded from the same inputs, regrades what changed, merges ``--topic`` runs into the
students' existing results, and rebuilds ``gradebook.csv`` from every student in the folder.
An interrupt (SIGINT, SIGTERM) stops the workers at once, keeps what is complete, writes the
gradebook of it and raises ``Interrupted``; rerunning resumes.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import journal
from grader.config import Course
from grader.judge.seeds import secret_id
from grader.layouts.kit import Submission
from grader.layouts.select import discover
from grader.pipeline import SubmissionReport, grade_submission, sandbox_for
from grader.reports import feedback, gradebook, gradescope
from grader.reports.files import write_atomic
from grader.sandbox import process
from grader.sandbox.process import Sandbox

REPORTS = ("results.json", "feedback.md", "staff.log")
SCRATCH = ".grader-scratch"  # unpacked zips, inside the output folder: a killed run leaves none


class Interrupted(Exception):
    """The batch was interrupted; ``done`` of ``total`` submissions are complete on disk."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted: {done} of {total} graded")
        self.done = done
        self.total = total


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


def write_reports(out: Path, report: SubmissionReport, crash: str = "") -> None:
    folder = out / report.student_id
    write_atomic(folder / "results.json", gradescope.dumps(report))
    write_atomic(folder / "feedback.md", feedback.render(report))
    write_atomic(folder / "staff.log", staff_log(report, crash))


def grade_one(
    course: Course,
    sub: Submission,
    topics: tuple[str, ...],
    out: Path,
    sandbox: Sandbox,
    force: bool = False,
) -> SubmissionReport:
    """Grade the topics of ``sub`` whose inputs changed since the journal (all with ``force``),
    merge them into the journal's report, and write the reports and then the journal."""
    folder = out / sub.student_id
    prints = journal.fingerprints(course, sub, topics)
    stored = journal.read(folder)
    if stored is not None and stored.report.student_id != sub.student_id:
        stored = None
    changed = (t for t in topics if stored is None or stored.fingerprints.get(t) != prints[t])
    todo = topics if force else tuple(changed)  # forced or not, other topics are kept (merge)
    if stored is not None and not todo:
        if not all((folder / name).is_file() for name in REPORTS):  # deleted by hand: restore
            write_reports(out, stored.report)
        return stored.report
    crash = ""
    try:
        report = grade_submission(course, sub, todo, sandbox=sandbox)
    except Exception:
        crash = traceback.format_exc()
        report = SubmissionReport(
            sub.student_id,
            (),
            "unknown",
            secret_id(course.secret),
            0.0,
            todo,
            grader_error=crash.strip().splitlines()[-1],
        )
    if process.stopping():  # interrupted while grading: the results are not the student's
        raise Interrupted(0, 0)
    if stored is not None and not report.grader_error:
        report = journal.merge(stored.report, report, course.topics)
        prints = {**stored.fingerprints, **prints}
    write_reports(out, report, crash)
    # a grader failure keeps no fingerprint: it is in the gradebook, and the next run regrades it
    done = {} if report.grader_error else {t: prints[t] for t in report.topics}
    journal.write(folder, journal.Entry(report, done))
    return report


def _tidy(out: Path) -> None:
    """Remove what a killed run may have left in the output folder: half-written temporary
    files of atomic writes and the scratch folder of unpacked zips."""
    shutil.rmtree(out / SCRATCH, ignore_errors=True)
    for leftover in out.glob("**/.*.tmp"):
        leftover.unlink(missing_ok=True)


def rebuild_gradebook(course: Course, out: Path) -> None:
    """gradebook.csv from every student's journal in ``out``, topics in course order."""
    reports = [entry.report for entry in journal.entries(out)]
    present = {t for r in reports for t in r.topics}
    topics = tuple(t for t in course.topics if t in present)
    topics += tuple(sorted(present - set(topics)))
    gradebook.write(out / "gradebook.csv", reports, topics)


def grade_batch(
    course: Course,
    paths: list[Path],
    out: Path,
    topics: tuple[str, ...],
    jobs: int = 1,
    on_done: Callable[[SubmissionReport | None, int, int], None] | None = None,
    force: bool = False,
    layout: str = "kit",
) -> list[SubmissionReport]:
    """Grade every submission under ``paths`` into ``out``; return the reports by student id.
    ``layout`` reads each submission (``grader.layouts.select``: kit, cs231n or auto).

    ``on_done(report, done, total)`` is called once with ``None`` when the submissions are
    known, then after each one (for a progress bar). Raises ``Interrupted`` on SIGINT/SIGTERM
    (KeyboardInterrupt in the calling thread), after stopping every worker.
    """
    out.mkdir(parents=True, exist_ok=True)
    _tidy(out)
    scratch = out / SCRATCH
    try:
        submissions = discover(paths, topics, scratch, layout)
        hidden = (out.resolve(), *(p.resolve() for p in paths))
        sandbox = sandbox_for(course, extra_hidden=hidden)
        reports = _grade_all(course, submissions, topics, out, sandbox, jobs, on_done, force)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        rebuild_gradebook(course, out)
    return sorted(reports, key=lambda r: r.student_id)


def _grade_all(
    course: Course,
    submissions: list[Submission],
    topics: tuple[str, ...],
    out: Path,
    sandbox: Sandbox,
    jobs: int,
    on_done: Callable[[SubmissionReport | None, int, int], None] | None,
    force: bool,
) -> list[SubmissionReport]:
    reports: list[SubmissionReport] = []
    if on_done:
        on_done(None, 0, len(submissions))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: list[Future[SubmissionReport]] = []
    try:
        futures = [
            pool.submit(grade_one, course, s, topics, out, sandbox, force) for s in submissions
        ]
        for future in as_completed(futures):
            reports.append(future.result())
            if on_done:
                on_done(reports[-1], len(reports), len(submissions))
    except (KeyboardInterrupt, Interrupted):
        process.stop_all()  # kills every worker; running gradings end within moments
        pool.shutdown(wait=True, cancel_futures=True)
        process.resume()
        done = sum(1 for f in futures if f.done() and not f.cancelled() and not f.exception())
        raise Interrupted(done, len(submissions)) from None
    finally:
        pool.shutdown(wait=True)
    return reports

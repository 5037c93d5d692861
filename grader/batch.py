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

import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from grader import executors, interrupts, journal, scratch
from grader.config import Course
from grader.executors import Executor
from grader.judge.seeds import secret_id
from grader.layouts.kit import Submission
from grader.layouts.select import discover
from grader.pipeline import NO_STUDENT_CODE, SubmissionReport, grade_submission, sandbox_for
from grader.reports import feedback, gradebook, gradescope, safe_text
from grader.reports.files import write_atomic
from grader.sandbox import process
from grader.sandbox.process import Sandbox

REPORTS = ("results.json", "feedback.md", "staff.log")
# unpacked zips and module copies, one folder per run (grader.scratch): a killed run's goes
# at the next run
SCRATCH = ".grader-scratch"


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
    """results.json, feedback.md and staff.log of one student, every text made safe
    (``grader.reports.safe_text``: no control character or lone surrogate reaches a file)."""
    folder = out / report.student_id
    report = safe_text.report(report)
    write_atomic(folder / "results.json", gradescope.dumps(report))
    write_atomic(folder / "feedback.md", safe_text.clean(feedback.render(report)))
    write_atomic(folder / "staff.log", safe_text.clean(staff_log(report, crash)))


@dataclass(frozen=True)
class Graded:
    """What grading one submission gave: its report, and the traceback when the grader
    itself failed on it (the report is then an "autograder failed" one)."""

    report: SubmissionReport
    crash: str = ""


def _grader_failed(course: Course, sub: Submission, topics: tuple[str, ...], crash: str) -> Graded:
    report = SubmissionReport(
        sub.student_id,
        (),
        "unknown",
        secret_id(course.secret),
        0.0,
        topics,
        grader_error=crash.strip().splitlines()[-1] if crash.strip() else "unknown failure",
    )
    return Graded(report, crash)


def grade_job(course: Course, sub: Submission, topics: tuple[str, ...], sandbox: Sandbox) -> Graded:
    """Grade ``topics`` of ``sub`` (where an executor runs it: a thread, a judge process, a
    Dask worker); a grader failure becomes the submission's result. Raises ``Interrupted``
    when the workers were stopped meanwhile (the results are not the student's then)."""
    try:
        graded = Graded(grade_submission(course, sub, topics, sandbox=sandbox))
    except Exception:
        graded = _grader_failed(course, sub, topics, traceback.format_exc())
    if process.stopping():  # interrupted while grading: the results are not the student's
        raise Interrupted(0, 0)
    return graded


@dataclass(frozen=True)
class _Plan:
    """What the journal says about one submission before grading: the topics to grade now,
    their fingerprints, and the stored entry to merge into."""

    sub: Submission
    todo: tuple[str, ...]
    prints: dict[str, str]
    stored: journal.Entry | None


def _plan(
    course: Course, sub: Submission, topics: tuple[str, ...], out: Path, force: bool
) -> _Plan:
    folder = out / sub.student_id
    prints = journal.fingerprints(course, sub, topics)
    stored = journal.read(folder)
    if stored is not None and stored.report.student_id != sub.student_id:
        stored = None
    changed = (t for t in topics if stored is None or stored.fingerprints.get(t) != prints[t])
    todo = topics if force else tuple(changed)  # forced or not, other topics are kept (merge)
    return _Plan(sub, todo, prints, stored)


def _source(sub: Submission) -> str:
    """Where the id was read from, as the journal and the gradebook show it (escaped)."""
    return safe_text.line(str(sub.source))


def _kept(out: Path, plan: _Plan) -> SubmissionReport:
    """The journal's report of a submission with nothing to grade (reports restored if
    deleted by hand)."""
    assert plan.stored is not None
    if not all((out / plan.sub.student_id / name).is_file() for name in REPORTS):
        write_reports(out, plan.stored.report)
    if plan.stored.source != _source(plan.sub):  # moved or renamed: the mapping follows
        journal.write(out / plan.sub.student_id, replace(plan.stored, source=_source(plan.sub)))
    return safe_text.report(plan.stored.report)


def _finish(course: Course, out: Path, plan: _Plan, graded: Graded) -> SubmissionReport:
    """Merge a grading into the journal's report; write the reports, then the journal."""
    report, prints, stored = safe_text.report(graded.report), plan.prints, plan.stored
    if stored is not None and not report.grader_error:
        report = journal.merge(stored.report, report, course.topics)
        prints = {**stored.fingerprints, **prints}
    write_reports(out, report, graded.crash)
    # a grader failure keeps no fingerprint: it is in the gradebook, and the next run regrades it
    done = {} if report.grader_error else {t: prints[t] for t in report.topics}
    journal.write(out / report.student_id, journal.Entry(report, done, _source(plan.sub)))
    return report


def _parts(queued: list[_Plan], parallel: int) -> list[tuple[int, tuple[str, ...]]]:
    """The jobs of the queued submissions, as (submission index, topics): one per submission;
    one per topic when there are fewer submissions than ``parallel`` gradings, so that one
    student's course keeps every judge busy (``merge_parts`` puts a submission together)."""
    split = parallel > 1 and len(queued) < parallel
    return [
        (i, topics)
        for i, plan in enumerate(queued)
        for topics in ([(t,) for t in plan.todo] if split and plan.todo else [plan.todo])
    ]


def merge_parts(
    course: Course, sub: Submission, topics: tuple[str, ...], pieces: list[Graded]
) -> Graded:
    """One submission's grading from gradings of parts of its ``topics`` (in that order): as
    if graded at once. A part the grader failed on fails the whole submission, as it would."""
    if len(pieces) == 1:
        return pieces[0]
    failed = next((p for p in pieces if p.report.grader_error), None)
    if failed is not None:
        return _grader_failed(course, sub, topics, failed.crash)
    reports = [p.report for p in pieces]
    ran = [r.isolation for r in reports if r.isolation != NO_STUDENT_CODE]
    first = reports[0]
    merged = replace(
        first,
        results=tuple(x for r in reports for x in r.results),
        isolation=ran[0] if ran else first.isolation,
        elapsed=sum(r.elapsed for r in reports),
        topics=topics,
        student_output="\n".join(filter(None, (r.student_output for r in reports))),
        worker_start_s=tuple(s for r in reports for s in r.worker_start_s),
    )
    return Graded(merged)


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
    plan = _plan(course, sub, topics, out, force)
    if plan.stored is not None and not plan.todo:
        return _kept(out, plan)
    return _finish(course, out, plan, grade_job(course, sub, plan.todo, sandbox))


def _tidy(out: Path) -> None:
    """Remove what a killed run may have left in the output folder: half-written temporary
    files of atomic writes (the scratch of dead runs goes with ``scratch.run_folder``)."""
    for leftover in out.glob("*/.*.tmp"):
        leftover.unlink(missing_ok=True)
    for leftover in out.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def rebuild_gradebook(course: Course, out: Path) -> None:
    """gradebook.csv from every student's journal in ``out``, topics in course order, with the
    source each id was read from."""
    found = journal.entries(out)
    reports = [entry.report for entry in found]
    present = {t for r in reports for t in r.topics}
    topics = tuple(t for t in course.topics if t in present)
    topics += tuple(sorted(present - set(topics)))
    sources = {entry.report.student_id: entry.source for entry in found}
    gradebook.write(out / "gradebook.csv", reports, topics, sources)


def grade_batch(
    course: Course,
    paths: list[Path],
    out: Path,
    topics: tuple[str, ...],
    jobs: int = 1,
    on_done: Callable[[SubmissionReport | None, int, int], None] | None = None,
    force: bool = False,
    layout: str = "kit",
    executor: str | Executor | None = None,
    scheduler: str | None = None,
) -> list[SubmissionReport]:
    """Grade every submission under ``paths`` into ``out``; return the reports by student id.
    ``layout`` reads each submission (``grader.layouts.select``: kit, cs231n or auto).
    ``executor`` runs the gradings (``grader.executors``: a kind, ``threads``, ``processes``,
    ``dask`` with ``scheduler``, ``dask-local``, or an executor; None: ``threads``); this
    process writes every file whichever runs them.

    ``on_done(report, done, total)`` is called once with ``None`` when the submissions are
    known, then after each one (for a progress bar). Raises ``Interrupted`` on SIGINT/SIGTERM
    (KeyboardInterrupt in the calling thread), after stopping every worker.
    """
    if executor is None or isinstance(executor, str):
        executor = executors.make(executor, jobs, scheduler)
    out.mkdir(parents=True, exist_ok=True)
    _tidy(out)
    try:
        with scratch.run_folder(out / SCRATCH) as folder:
            submissions = discover(paths, topics, folder, layout)
            hidden = (out.resolve(), *(p.resolve() for p in paths))
            sandbox = sandbox_for(course, extra_hidden=hidden)
            reports = _grade_all(
                course, submissions, topics, out, sandbox, executor, on_done, force
            )
    finally:
        rebuild_gradebook(course, out)
    return sorted(reports, key=lambda r: r.student_id)


def _grade_all(
    course: Course,
    submissions: list[Submission],
    topics: tuple[str, ...],
    out: Path,
    sandbox: Sandbox,
    executor: Executor,
    on_done: Callable[[SubmissionReport | None, int, int], None] | None,
    force: bool,
) -> list[SubmissionReport]:
    reports: list[SubmissionReport] = []
    total = len(submissions)
    if on_done:
        on_done(None, 0, total)

    def record(report: SubmissionReport) -> None:
        reports.append(report)
        if on_done:
            on_done(report, len(reports), total)

    plans = [_plan(course, s, topics, out, force) for s in submissions]
    queued: list[_Plan] = []
    for plan in plans:
        if plan.stored is not None and not plan.todo:
            record(_kept(out, plan))
        else:
            queued.append(plan)

    parts = _parts(queued, getattr(executor, "jobs", 1))
    of: dict[int, list[int]] = {}  # submission -> the indices of its parts
    for index, (owner, _) in enumerate(parts):
        of.setdefault(owner, []).append(index)
    back: dict[int, dict[int, Graded | BaseException]] = {}  # submission -> its parts back

    def finished(index: int, outcome: Graded | BaseException) -> None:
        if isinstance(outcome, Interrupted):  # its workers were stopped: not the student's
            raise KeyboardInterrupt
        owner = parts[index][0]
        plan, got = queued[owner], back.setdefault(owner, {})
        got[index] = outcome
        if len(got) < len(of[owner]):
            return
        del back[owner]
        pieces = []
        for i in of[owner]:
            piece = got[i]
            if isinstance(piece, BaseException):  # the executor lost it: a grader failure
                crash = "".join(traceback.format_exception(piece))
                piece = _grader_failed(course, plan.sub, plan.todo, crash)
            pieces.append(piece)
        record(_finish(course, out, plan, merge_parts(course, plan.sub, plan.todo, pieces)))

    jobs = [executors.Job(queued[owner].sub, topics) for owner, topics in parts]
    try:
        executor.run(grade_job, course, sandbox, jobs, finished)
        interrupts.check()  # a stop that library code swallowed on the way
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(len(reports), total) from None
    return reports

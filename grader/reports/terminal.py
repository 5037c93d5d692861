"""What the CLI prints: tables and feedback on a terminal (rich), plain text elsewhere."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from grader.pipeline import SubmissionReport
from grader.reports import student_view

if TYPE_CHECKING:
    from grader.validate import Validation

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")


def info(message: str) -> None:
    console.print(message, markup=False)


def check_report(
    report: SubmissionReport,
    hidden: Mapping[str, student_view.Hidden] | None = None,
    quiet: bool = False,
    out: Console | None = None,
) -> None:
    """``grader check``'s output (``grader.reports.student_view``): tables and details, then the
    closing summary, with the hidden checks that are not run locally."""
    student_view.render(out or console, report, hidden, quiet)


@contextlib.contextmanager
def working(
    what: str, delay: float = 1.0, out: Console | None = None
) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr (``what: <step>``, with the elapsed time) for work that takes longer
    than ``delay`` seconds, only on a terminal; it is gone before the results are printed.
    Yields ``step(text)`` to say what is being done now."""
    out = out or err_console
    if not out.is_terminal:
        yield lambda text: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
    task = progress.add_task(what, total=None)
    lock = threading.Lock()
    state = {"live": False, "done": False}

    def show() -> None:
        with lock:
            if not state["done"]:
                progress.start()
                state["live"] = True

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()
    try:
        yield lambda text: progress.update(task, description=f"{what}: {text}")
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["live"]:
                progress.stop()


@contextlib.contextmanager
def batch_progress() -> Iterator:
    if not sys.stderr.isatty():
        yield None
        return
    progress = Progress(
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task("grading", total=None, last="")
    with progress:

        def on_done(report: SubmissionReport | None, done: int, total: int) -> None:
            last = report.student_id if report else ""
            progress.update(task, completed=done, total=total, last=last)

        yield on_done


def batch_table(reports: list[SubmissionReport], topics: tuple[str, ...]) -> None:
    table = Table(title="grades")
    table.add_column("student")
    for t in topics:
        table.add_column(t, justify="right")
    table.add_column("total", justify="right")
    table.add_column("notes")
    for rep in reports:
        scores = rep.topic_scores()
        outcomes = sorted({r.outcome.value for r in rep.results if not r.passed and r.counts})
        note = "GRADER ERROR" if rep.status == "grader_error" else ", ".join(outcomes)
        table.add_row(
            escape(rep.student_id),
            *(f"{scores[t][0]:g}/{scores[t][1]:g}" for t in topics),
            f"{rep.score:g}/{rep.max_score:g}",
            note,
        )
    console.print(table)


def validation(result: Validation) -> None:
    sol, stub = result.solutions, result.stubs
    console.print(
        f"solutions: {sol.score:g}/{sol.max_score:g} points over {len(sol.results)} checks"
    )
    not_impl = sum(r.outcome.value == "not_implemented" for r in stub.results)
    console.print(
        f"stubs:     {stub.score:g}/{stub.max_score:g} points; {not_impl} of "
        f"{len(stub.results)} checks not_implemented"
    )
    for problem in result.problems:
        console.print(f"[red]problem:[/] {escape(problem)}")
    console.print("[green]validate: OK[/]" if result.ok else "[red]validate: FAILED[/]")

"""What the CLI prints: tables and feedback on a terminal (rich), plain text elsewhere."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from rich import box
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
from rich.text import Text

from grader.pipeline import SubmissionReport
from grader.reports import safe_text, student_view

if TYPE_CHECKING:
    from grader.validate import Validation

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(safe_text.clean(message))}")


def info(message: str) -> None:
    console.print(safe_text.clean(message), markup=False)


def check_report(
    report: SubmissionReport,
    hidden: Mapping[str, student_view.Hidden] | None = None,
    quiet: bool = False,
    out: Console | None = None,
) -> None:
    """``grader check``'s output (``grader.reports.student_view``): tables and details, then the
    closing summary, with the hidden checks that are not run locally."""
    student_view.render(out or console, safe_text.report(report), hidden, quiet)


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
            last = safe_text.line(report.student_id) if report else ""
            progress.update(task, completed=done, total=total, last=last)

        yield on_done


def _percent(score: float, max_score: float) -> str:
    """Floor of the percentage: 100% only for full marks."""
    return f"{int(100 * score / max_score)}%" if max_score else "-"


def _abbreviations(topics: tuple[str, ...], size: int = 4) -> dict[str, str]:
    """The shortest prefix of each topic (at least ``size`` letters) that no other topic has."""
    short = {}
    for t in topics:
        n = size
        while n < len(t) and any(o != t and o.startswith(t[:n]) for o in topics):
            n += 1
        short[t] = t[:n]
    return short


def _note(rep: SubmissionReport) -> str:
    if rep.status == "grader_error":
        return "GRADER ERROR"
    if rep.status != "graded":
        return rep.status
    return ", ".join(sorted({r.outcome.value for r in rep.results if not r.passed and r.counts}))


def _score_table(reports: list[SubmissionReport], topics: tuple[str, ...], form: str) -> Table:
    """The batch's scores in one of the forms ``full`` (score/max per topic), ``percent``,
    ``short`` (percentages under abbreviated topic names) or ``compact`` (the total and the
    weakest topics)."""
    caption = None if form == "full" else "the full table is in gradebook.csv"
    table = Table(title="grades", caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("student", overflow="fold")
    names = _abbreviations(topics) if form == "short" else {t: t for t in topics}
    if form != "compact":
        for t in topics:
            table.add_column(names[t], justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    if form != "full":
        table.add_column("%", justify="right", no_wrap=True)
    if form == "compact":
        table.add_column("lowest topics")
    table.add_column("notes", max_width=24)
    for rep in reports:
        scores = rep.topic_scores()
        if form == "full":
            cells = [f"{scores[t][0]:g}/{scores[t][1]:g}" for t in topics]
        elif form == "compact":
            low = sorted((s / m, t) for t, (s, m) in scores.items() if t in topics and m and s < m)
            cells = ["\n".join(f"{t} {_percent(*scores[t])}" for _, t in low[:2])]
        else:
            cells = [_percent(*scores[t]) for t in topics]
        total = [f"{rep.score:g}/{rep.max_score:g}"]
        if form != "full":
            total.append(_percent(rep.score, rep.max_score))
        # compact: the weakest topics come after the total; otherwise the topics before it
        row = [*total, *cells] if form == "compact" else [*cells, *total]
        table.add_row(Text(safe_text.line(rep.student_id)), *row, Text(_note(rep)))
    return table


def batch_table(
    reports: list[SubmissionReport], topics: tuple[str, ...], out: Console | None = None
) -> None:
    """The score table of ``grader grade``, in the widest form that fits the console: score/max
    per topic, percentages, percentages under abbreviated topic names (with a legend), or the
    total with the weakest topics. The full table is always in gradebook.csv."""
    out = out or console
    unbounded = out.options.update_width(10_000)
    for form in ("full", "percent", "short", "compact"):
        table = _score_table(reports, topics, form)
        if out.measure(table, options=unbounded).maximum <= out.width:  # its natural width
            break
    out.print(table)
    if form == "short":
        legend = ", ".join(f"{a} = {t}" for t, a in _abbreviations(topics).items() if a != t)
        if legend:
            out.print(Text(legend))


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

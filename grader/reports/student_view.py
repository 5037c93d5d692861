"""What ``grader check`` prints: per topic a table, then the details of what failed, then one
closing summary, last, right above the prompt. Everything is wrapped at word boundaries to the
console's width (80 columns and up read well).

- Table rows: one per check where the check says something of its own (passed or wrong, on a
  function that is partly right), one per function for what repeats: a function whose checks
  all pass, or its checks that end the same way (not implemented, not submitted, an exception,
  a timeout, not run: ``affine_forward (7 checks)  NOT IMPLEMENTED``), and one for the topic
  when every check failed with the same message (a module that does not import).
- Details: each distinct failure message once, under its row's name (not for
  ``not_implemented``: the row says it all), then the warnings of checks that passed (inputs
  modified in place, under ``mutation: warn``).
- Summary, per topic: score, passed and failed counts, the failing functions, warnings, and the
  hidden checks and their points, which only the instructor's grading runs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.checks.base import Outcome
from grader.config import Course
from grader.i18n import N_, message, outcome, tr
from grader.pipeline import CheckResult, SubmissionReport

# outcomes that read the same on every check of a function: one row says it for all of them
GROUPED = frozenset(
    {
        Outcome.NOT_IMPLEMENTED,
        Outcome.NOT_SUBMITTED,
        Outcome.EXCEPTION,
        Outcome.TIMEOUT,
        Outcome.CRASHED,
        Outcome.MEMORY,
        Outcome.NOT_RUN,
    }
)
WIDE = 100  # from this width on, the table has a kind column


@dataclass(frozen=True)
class Hidden:
    """A topic's checks that ``grader check`` does not run (hidden, after the due date, ...)."""

    count: int
    points: float


def hidden_checks(course: Course, topics: Iterable[str]) -> dict[str, Hidden]:
    """Per topic, the checks that are not visible to students and the points they carry."""
    found = {}
    for topic in topics:
        plans = [p for p in course.plans[topic] if p.visibility != "visible"]
        found[topic] = Hidden(len(plans), sum(p.points for p in plans))
    return found


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """``text`` wrapped at word boundaries to ``width``: each line keeps its own indentation
    (plus ``indent``), and its continuation lines are indented two more spaces. A word is
    never broken (one longer than the width stands on its own line)."""
    lines = []
    for line in text.splitlines() or [""]:
        words = line.lstrip(" ")
        lead = " " * (indent + len(line) - len(words))
        if not words.strip():
            lines.append("")
            continue
        lines += textwrap.wrap(
            words,
            width=max(width, len(lead) + 20),
            initial_indent=lead,
            subsequent_indent=lead + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return lines


@dataclass(frozen=True)
class Row:
    """One table row: one check, or checks of a function (or topic) that ended the same way."""

    label: str
    results: tuple[CheckResult, ...]

    @property
    def heading(self) -> str:
        """What the details call this row: the check's id, or the topic/function and count."""
        first, count = self.results[0], len(self.results)
        if count == 1:
            return first.check_id
        if {r.function for r in self.results} == {first.function}:
            return f"{first.topic}/{first.function}: " + tr("{count} checks").format(count=count)
        return f"{first.topic}: " + tr("all {count} checks").format(count=count)


ABSENT = {
    Outcome.NOT_IMPLEMENTED: N_("NOT IMPLEMENTED"),
    Outcome.NOT_SUBMITTED: N_("NOT SUBMITTED"),
}
STYLES = {"skip": "yellow", "warn": "yellow", "pass": "green", "fail": "red"}


def status(results: tuple[CheckResult, ...] | list[CheckResult]) -> tuple[str, str]:
    """(label, kind) of a row's status: ``PASS``, ``PASS (warning)``, ``NOT RUN``, ``NOT
    IMPLEMENTED``, ``FAIL (wrong)``... in the chosen language; kind is ``pass``, ``warn``,
    ``skip`` or ``fail`` (the colour)."""
    r = results[0]
    if not r.counts:
        return tr("NOT RUN"), "skip"
    if r.passed:
        return (tr("PASS (warning)"), "warn") if r.warnings else (tr("PASS"), "pass")
    if r.outcome in (Outcome.NOT_IMPLEMENTED, Outcome.NOT_SUBMITTED):
        return tr(ABSENT[r.outcome]), "fail"
    return tr("FAIL") + f" ({outcome(r.outcome.value)})", "fail"


def _status(results: tuple[CheckResult, ...]) -> Text:
    label, kind = status(results)
    return Text(label, STYLES[kind])


def topic_rows(results: list[CheckResult]) -> list[Row]:
    """The table rows of one topic's results (see the module's docstring)."""
    messages = {(r.outcome, r.message) for r in results}
    if len(messages) == 1 and len({r.function for r in results}) > 1:
        ((outcome, _),) = messages
        if outcome in GROUPED and outcome is not Outcome.NOT_RUN:
            return [Row(tr("all {count} checks").format(count=len(results)), tuple(results))]
    rows: list[Row] = []
    for fn in dict.fromkeys(r.function for r in results):
        mine = [r for r in results if r.function == fn]
        if len(mine) > 1 and all(r.passed and not r.warnings for r in mine):
            rows.append(Row(f"{fn} ({_checks(len(mine))})", tuple(mine)))
            continue
        grouped: dict[Outcome, list[CheckResult]] = {}
        for r in mine:
            if r.outcome in GROUPED:
                grouped.setdefault(r.outcome, []).append(r)
        for r in mine:
            group = grouped.get(r.outcome, [])
            if len(group) > 1:
                if r is group[0]:
                    rows.append(Row(f"{fn} ({_checks(len(group))})", tuple(group)))
            else:
                rows.append(Row(r.check_id.split("/", 1)[1], (r,)))
    return rows


def _checks(count: int) -> str:
    return tr("{count} checks").format(count=count)


def _table(rows: list[Row], width: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(tr("check"), ratio=1, min_width=28)
    wide = width >= WIDE
    if wide:
        table.add_column(tr("kind"), no_wrap=True)
    table.add_column(tr("status"), no_wrap=True)
    table.add_column(tr("points"), justify="right", no_wrap=True)
    for row in rows:
        kinds = sorted({r.kind for r in row.results})
        kind = (kinds[0] if len(kinds) == 1 else "",) if wide else ()
        points = sum(r.points for r in row.results)
        max_points = sum(r.max_points for r in row.results if r.counts)
        table.add_row(Text(row.label), *kind, _status(row.results), f"{points:g}/{max_points:g}")
    return table


def _print(console: Console, lines: list[str], style: str = "") -> None:
    for line in lines:
        console.print(Text(line, style), soft_wrap=True)


def _details(console: Console, rows: list[Row], shown: set[str]) -> None:
    """Each distinct failure message once, under the row it belongs to; then the warnings."""
    width = console.width
    for row in rows:
        first = row.results[0]
        if first.passed or not first.counts or first.outcome is Outcome.NOT_IMPLEMENTED:
            continue
        # the same fault over a function's (or the module's) checks is said once
        fresh = [m for m in dict.fromkeys(r.message for r in row.results) if m not in shown]
        if not fresh:
            continue
        shown.update(fresh)
        console.print()
        heading = tr("FAIL") + f" {row.heading} ({outcome(first.outcome.value)})"
        _print(console, wrap(heading, width), "bold red")
        for text in fresh:
            _print(console, wrap(message(text) or outcome(first.outcome.value), width, indent=2))
    for row in rows:
        for r in row.results:
            for warning in r.warnings:
                console.print()
                _print(console, wrap(tr("WARNING") + f" {r.check_id}", width), "bold yellow")
                _print(console, wrap(warning, width, indent=2))


def _names(functions: list[str], every: list[str]) -> str:
    if functions == every and len(every) > 2:
        return tr("all {count} functions").format(count=len(every))
    return ", ".join(functions)


def _failing(results: list[CheckResult]) -> list[str]:
    """What the summary says about the failing functions: not implemented yet, not submitted
    (not defined), failing (everything else)."""
    counted = [r for r in results if r.counts]
    every = list(dict.fromkeys(r.function for r in counted))
    failing = [r for r in counted if not r.passed]
    functions = list(dict.fromkeys(r.function for r in failing))

    def only(outcome: Outcome) -> list[str]:
        return [
            fn for fn in functions if all(r.outcome is outcome for r in failing if r.function == fn)
        ]

    absent, missing = only(Outcome.NOT_IMPLEMENTED), only(Outcome.NOT_SUBMITTED)
    broken = [fn for fn in functions if fn not in absent and fn not in missing]
    said = []
    if broken:
        said.append(tr("failing: {names}").format(names=_names(broken, every)))
    if missing:
        said.append(tr("not submitted: {names}").format(names=_names(missing, every)))
    if absent:
        said.append(tr("not implemented yet: {names}").format(names=_names(absent, every)))
    return said


def _width(text: str) -> int:
    return cell_len(text)  # a Chinese character takes two columns


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary_lines(report: SubmissionReport, hidden: Mapping[str, Hidden], width: int) -> list[str]:
    """The closing summary: one block per topic, then the total."""
    label = tr("total")
    pad = max(_width(t) for t in (*report.topics, label)) + 2
    lines = []
    for topic, (score, max_score) in report.topic_scores().items():
        results = [r for r in report.results if r.topic == topic]
        counted = [r for r in results if r.counts]
        passed = sum(r.passed for r in counted)
        said = [
            tr("{score} / {max_score} points: {passed} passed, {failed} failed").format(
                score=f"{score:g}",
                max_score=f"{max_score:g}",
                passed=passed,
                failed=len(counted) - passed,
            )
        ]
        if not_run := len(results) - len(counted):
            said[0] += tr(", {count} not run here").format(count=not_run)
        said += _failing(results)
        if warned := list(dict.fromkeys(r.function for r in results if r.warnings)):
            said.append(tr("warnings (see above): {names}").format(names=", ".join(warned)))
        h = hidden.get(topic)
        if h and h.count:
            said.append(
                tr("hidden: {count} checks ({points} points), run only by your instructor").format(
                    count=h.count, points=f"{h.points:g}"
                )
            )
        text = "\n".join(s for s in said if s)
        block = wrap(textwrap.indent(text, " " * pad), width)
        block[0] = _ljust(topic, pad) + block[0][pad:]
        lines += block
    total = tr("{score} / {max_score} points over the public checks").format(
        score=f"{report.score:g}", max_score=f"{report.max_score:g}"
    )
    h_count = sum(h.count for t, h in hidden.items() if t in report.topics)
    h_points = sum(h.points for t, h in hidden.items() if t in report.topics)
    if h_count:
        total += tr(
            "; {count} hidden checks ({points} points) are graded by your instructor"
        ).format(count=h_count, points=f"{h_points:g}")
    block = wrap(" " * pad + total, width)
    block[0] = _ljust(label, pad) + block[0][pad:]
    return lines + block


def heading(topic: str, score: float, max_score: float) -> str:
    return f"{topic}: " + tr("{score} / {max_score} points (public checks)").format(
        score=f"{score:g}", max_score=f"{max_score:g}"
    )


def render(
    console: Console,
    report: SubmissionReport,
    hidden: Mapping[str, Hidden] | None = None,
    quiet: bool = False,
) -> None:
    """Print ``report`` for the student: tables and details (unless ``quiet``), then the
    summary, last."""
    hidden = hidden or {}
    if not quiet:
        shown: set[str] = set()
        for topic, (score, max_score) in report.topic_scores().items():
            results = [r for r in report.results if r.topic == topic]
            console.print()
            console.rule(Text(heading(topic, score, max_score)))
            rows = topic_rows(results)
            console.print(_table(rows, console.width))
            _details(console, rows, shown)
        if report.student_output:
            console.print()
            console.rule(Text(tr("your program printed (capped)")))
            _print(console, wrap(report.student_output[-3000:], console.width))
    console.print()
    console.rule(Text(tr("summary"), "bold"))
    _print(console, summary_lines(report, hidden, console.width))

"""``grader stats OUT``: the class view of a graded batch, read from ``OUT/*/results.json``.

Each results.json is checked against the schema (``results.schema.json``); one that cannot be
read or does not conform is listed as such, never guessed at. The view: the score distribution
(a text histogram of percentages), per-topic means, the checks most students fail (lowest pass
rate first, with how they fail), the named mistakes (``extra_data.misconception`` of the tests,
recorded for visible checks) with how many students made each, and the submissions whose
grading failed (any ``extra_data.status`` other than ``graded``).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.reports import gradescope

INTERNAL = "grader/"  # the prefix of the "autograder failed" entry, not a check
BINS = 10  # histogram bins of 10 percentage points, and one for full marks
STATUS = {"grader_error": "grader_error: the autograder failed on it (see its staff.log); regrade"}


class StatsError(Exception):
    """``OUT`` is not an output folder of ``grader grade``."""


@dataclass(frozen=True)
class Graded:
    """One student's results.json."""

    student: str
    score: float
    max_score: float
    topics: dict[str, tuple[float, float]]
    tests: tuple[dict[str, Any], ...]
    status: str

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class CheckRate:
    name: str
    passed: int
    graded: int
    failures: Counter[str]  # outcome -> students

    @property
    def rate(self) -> float:
        return self.passed / self.graded


@dataclass(frozen=True)
class Mistake:
    where: str  # "<topic>/<function>"
    name: str
    students: tuple[str, ...]


def _graded(folder: str, data: dict[str, Any]) -> Graded:
    extra = data["extra_data"]
    topics = {t: (v["score"], v["max_score"]) for t, v in extra["topics"].items()}
    return Graded(
        student=str(extra.get("student_id", folder)),
        score=float(data["score"]),
        max_score=float(data.get("max_score", sum(m for _, m in topics.values()))),
        topics=topics,
        tests=tuple(data["tests"]),
        status=str(extra.get("status", "graded")),
    )


@dataclass(frozen=True)
class ClassStats:
    graded: tuple[Graded, ...]
    unreadable: tuple[tuple[str, str], ...]  # (folder, why)

    def histogram(self) -> list[tuple[str, int]]:
        """(label, students) for 0-9%, 10-19%, ..., 90-99% and 100% (the floor of each
        student's percentage)."""
        counts = [0] * (BINS + 1)
        for g in self.graded:
            counts[min(int(g.percent) // (100 // BINS), BINS)] += 1
        step = 100 // BINS
        labels = [f"{i * step}-{i * step + step - 1}%" for i in range(BINS)] + ["100%"]
        return list(zip(labels, counts))

    def topic_means(self) -> list[tuple[str, float, float, int]]:
        """(topic, mean score, mean maximum, students with full marks), in first-seen order."""
        topics = list(dict.fromkeys(t for g in self.graded for t in g.topics))
        means = []
        for t in topics:
            pairs = [g.topics[t] for g in self.graded if t in g.topics]
            full = sum(1 for s, m in pairs if m and s >= m)
            means.append(
                (
                    t,
                    statistics.fmean(s for s, _ in pairs),
                    statistics.fmean(m for _, m in pairs),
                    full,
                )
            )
        return means

    def check_rates(self) -> list[CheckRate]:
        """Every check that counted, lowest pass rate first (ties by name)."""
        passed: Counter[str] = Counter()
        graded: Counter[str] = Counter()
        failures: dict[str, Counter[str]] = {}
        for g in self.graded:
            for t in g.tests:
                if t["name"].startswith(INTERNAL) or not t["max_score"]:
                    continue  # not a check, or one that did not count (not run here)
                graded[t["name"]] += 1
                if t["status"] == "passed":
                    passed[t["name"]] += 1
                else:
                    failures.setdefault(t["name"], Counter())[t["extra_data"]["outcome"]] += 1
        rates = [CheckRate(n, passed[n], k, failures.get(n, Counter())) for n, k in graded.items()]
        return sorted(rates, key=lambda r: (r.rate, r.name))

    def mistakes(self) -> list[Mistake]:
        """The named mistakes, most students first; a student counts once per mistake."""
        found: dict[tuple[str, str], set[str]] = {}
        for g in self.graded:
            for t in g.tests:
                name = t["extra_data"].get("misconception")
                if name:
                    where = t["name"].split(":", 1)[0]
                    found.setdefault((where, name), set()).add(g.student)
        mistakes = [Mistake(w, n, tuple(sorted(s))) for (w, n), s in found.items()]
        return sorted(mistakes, key=lambda m: (-len(m.students), m.where, m.name))

    def failed(self) -> list[tuple[str, str]]:
        """(student, why) for each submission whose grading failed or cannot be read."""
        bad = [
            (g.student, STATUS.get(g.status, g.status)) for g in self.graded if g.status != "graded"
        ]
        return sorted(bad + [(f, f"results.json unreadable: {why}") for f, why in self.unreadable])


def load(out: Path) -> ClassStats:
    if not out.is_dir():
        raise StatsError(f"{out} is not a folder (an output folder of grader grade)")
    files = sorted(out.glob("*/results.json"))
    if not files:
        raise StatsError(
            f"no <student>/results.json under {out} (an output folder of grader grade)"
        )
    graded, unreadable = [], []
    for path in files:
        folder = path.parent.name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            gradescope.validate(data)
        except jsonschema.ValidationError as exc:
            unreadable.append((folder, f"not in the results format ({exc.message[:80]})"))
            continue
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
            unreadable.append((folder, type(exc).__name__))
            continue
        graded.append(_graded(folder, data))
    return ClassStats(tuple(sorted(graded, key=lambda g: g.student)), tuple(unreadable))


def _table(*columns: str) -> Table:
    """A table whose columns named ``"#name"`` hold numbers (right-aligned) and ``"=name"`` one
    word per cell: those are never wrapped; the others wrap at word boundaries."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        table.add_column(
            name.lstrip("#="),
            justify="right" if name.startswith("#") else "left",
            no_wrap=name[0] in "#=",
            overflow="fold",  # should a word be longer than the whole console: never cut it
        )
    return table


def _section(console: Console, title: str) -> None:
    console.print()
    console.rule(Text(title, "bold"))


def render(stats: ClassStats, console: Console, top: int = 10) -> None:
    graded = stats.graded
    percents = [g.percent for g in graded]
    head = f"{len(graded)} submissions"
    if graded:
        head += (
            f": mean {statistics.fmean(percents):.0f}%, median {statistics.median(percents):.0f}%,"
            f" lowest {min(percents):.0f}%, highest {max(percents):.0f}%"
        )
    _section(console, "score distribution")
    console.print(Text(head))
    histogram = stats.histogram()
    most = max((n for _, n in histogram), default=0) or 1
    bar_width = max(10, console.width - 16)
    for label, n in reversed(histogram):
        bar = "█" * round(bar_width * n / most)
        console.print(Text(f"{label:>7} {n:>4} {bar}"), soft_wrap=True)

    _section(console, "topics")
    table = _table("topic", "#mean", "#mean %", "#full marks")
    for topic, score, max_score, full in stats.topic_means():
        percent = f"{100 * score / max_score:.0f}%" if max_score else "-"
        table.add_row(topic, f"{score:.1f}/{max_score:g}", percent, f"{full}/{len(graded)}")
    console.print(table)

    rates = [r for r in stats.check_rates() if r.passed < r.graded]
    _section(console, f"checks failed most (lowest pass rate first, {min(top, len(rates))} shown)")
    table = _table("check", "#passed", "#rate", "failures")
    for r in rates[:top]:
        how = ", ".join(f"{outcome} {n}" for outcome, n in r.failures.most_common())
        table.add_row(Text(r.name), f"{r.passed}/{r.graded}", f"{100 * r.rate:.0f}%", Text(how))
    console.print(table if rates else Text("every check passed for every student"))

    _section(console, "named mistakes")
    mistakes = stats.mistakes()
    table = _table("mistake", "=function", "#students")
    for m in mistakes:
        table.add_row(Text(m.name), Text(m.where), f"{len(m.students)}/{len(graded)}")
    console.print(table if mistakes else Text("no named mistake was made"))

    _section(console, "grading failed")
    failed = stats.failed()
    for student, why in failed:
        console.print(Text(f"{student}: {why}"))
    if not failed:
        console.print(Text("none: every submission was graded"))

"""`grader stats OUT` on a small graded batch, at 80 and 120 columns: every number is computed
here again from the results.json files; and the score table of `grader grade` fits the width."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from grader.batch import grade_batch
from grader.checks.base import Outcome
from grader.pipeline import CheckResult, SubmissionReport
from grader.reports import gradescope, stats, terminal

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
STUDENTS = ("alice", "bob", "dave", "raises", "mutates_inputs")
TOPICS = ("losses", "backprop", "batchnorm")  # dave: batchnorm mistakes, long function names
WIDTHS = (80, 120)
RULE = set("─━█")


@pytest.fixture(scope="module")
def out(fast_course, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("graded")
    reports = grade_batch(fast_course, [EXAMPLES / s for s in STUDENTS], out, TOPICS, jobs=2)
    # the class graded: a grader failure here would be this fixture's, not the view's (staff.log
    # holds its traceback)
    for report in reports:
        log = out / report.student_id / "staff.log"
        assert report.grader_error is None, f"{report.student_id}:\n{log.read_text()[-4000:]}"
    # one submission on which the grader failed, one results.json that is not JSON
    failed = replace(reports[0], student_id="zed", grader_error="KeyError: 'boom'")
    (out / "zed").mkdir()
    (out / "zed" / "results.json").write_text(gradescope.dumps(failed))
    (out / "yann").mkdir()
    (out / "yann" / "results.json").write_text('{"score": 1, "tests": [')
    return out


@pytest.fixture(scope="module")
def results(out) -> dict[str, dict]:
    found = {}
    for path in sorted(out.glob("*/results.json")):
        try:
            found[path.parent.name] = json.loads(path.read_text())
        except ValueError:
            continue
    assert sorted(found) == sorted((*STUDENTS, "zed"))
    return found


def render(view: stats.ClassStats, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    stats.render(view, console)
    return console.export_text()


def words(text: str) -> list[str]:
    return [w for w in text.split() if not set(w) <= RULE]


def flat(text: str) -> str:
    return " ".join(words(text))


def table_rows(block: str, first: str) -> list[list[str]]:
    """The cells of the table in ``block`` whose header starts with ``first``, each cell's
    wrapped lines joined again; the columns are cut where the header's words start."""
    lines = block.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith(first + " "))
    starts = [m.start() for m in re.finditer(r"\S+", lines[at])]
    cuts = [0, *(s - 1 for s in starts[1:]), None]
    rows: list[list[list[str]]] = []
    for line in lines[at + 2 :]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in zip(cuts, cuts[1:])]
        if cells[1]:  # a new row; otherwise the wrapped lines of the one above
            rows.append([[c] for c in cells])
        else:
            for parts, c in zip(rows[-1], cells):
                parts.append(c)
    return [[" ".join(p for p in parts if p) for parts in row] for row in rows]


def section(text: str, title: str) -> str:
    """The lines of ``text`` from the rule titled ``title`` to the next rule."""
    lines = text.splitlines()
    rules = [i for i, ln in enumerate(lines) if ln.startswith("─") and ln.strip(" ─")]
    start = next(i for i in rules if lines[i].strip(" ─").startswith(title))
    end = next((i for i in rules if i > start), None)
    return "\n".join(lines[start + 1 : end])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_class_view_at_80_and_120_columns(out, results, width):
    view = stats.load(out)
    text = render(view, width)
    assert max(len(ln) for ln in text.splitlines()) <= width
    whole = set(words(render(view, 1000)))
    assert [w for w in words(text) if w not in whole] == []  # no word broken across lines

    # the score distribution: students per bin of 10 percentage points, floor of the percentage
    percents = {s: 100 * d["score"] / d["max_score"] for s, d in results.items()}
    bins = Counter(min(int(p) // 10, 10) for p in percents.values())
    histogram = section(text, "score distribution")
    assert f"{len(results)} submissions" in histogram
    for b in range(11):
        label = "100%" if b == 10 else f"{10 * b}-{10 * b + 9}%"
        line = next(ln for ln in histogram.splitlines() if ln.split()[:1] == [label])
        assert line.split()[1] == str(bins[b])
        assert line.count("█") == 0 if not bins[b] else line.count("█") > 0

    # per-topic means
    topics = section(text, "topics")
    for topic in TOPICS:
        scores = [d["extra_data"]["topics"][topic] for d in results.values()]
        mean = sum(s["score"] for s in scores) / len(scores)
        full = sum(s["score"] == s["max_score"] for s in scores)
        row = next(ln for ln in topics.splitlines() if ln.startswith(topic + " "))
        assert row.split()[1].startswith(f"{mean:.1f}/")
        assert row.split()[-1] == f"{full}/{len(results)}"

    # the checks most students fail, lowest pass rate first, and how they fail
    passed, graded, failures = Counter(), Counter(), {}
    for d in results.values():
        for t in d["tests"]:
            if t["max_score"] > 0 and not t["name"].startswith("grader/"):
                graded[t["name"]] += 1
                passed[t["name"]] += t["status"] == "passed"
                if t["status"] != "passed":
                    how = failures.setdefault(t["name"], Counter())
                    how[t["extra_data"]["outcome"]] += 1
    order = sorted((passed[n] / graded[n], n) for n in graded if passed[n] < graded[n])
    rows = table_rows(section(text, "checks failed most"), "check")
    assert [row[:3] for row in rows] == [
        [name, f"{passed[name]}/{graded[name]}", f"{100 * rate:.0f}%"] for rate, name in order[:10]
    ]
    for row in rows:
        assert set(row[3].split(", ")) == {f"{o} {n}" for o, n in failures[row[0]].items()}

    # named mistakes and how many students made each, most students first
    made: dict[tuple[str, str], set[str]] = {}
    for student, d in results.items():
        for t in d["tests"]:
            if "misconception" in t["extra_data"]:
                where = t["name"].split(":")[0]
                made.setdefault((t["extra_data"]["misconception"], where), set()).add(student)
    assert len(made) >= 5  # bob's five mistakes, at least
    rows = table_rows(section(text, "named mistakes"), "mistake")
    assert sorted(rows) == sorted(
        [name, where, f"{len(students)}/{len(results)}"] for (name, where), students in made.items()
    )
    counts = [int(row[2].split("/")[0]) for row in rows]
    assert counts == sorted(counts, reverse=True)

    # submissions whose grading failed, or whose results cannot be read
    failed = section(text, "grading failed")
    assert "zed: grader_error" in failed
    assert "yann: results.json unreadable" in failed
    assert not any(s in failed for s in STUDENTS)


def test_stats_command_runs_outside_a_course(out, tmp_path):
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(REPO)}
    run = [sys.executable, "-m", "grader", "stats"]
    done = subprocess.run([*run, str(out)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "named mistakes" in done.stdout and "correct-class margin counted" in done.stdout
    missing = subprocess.run(
        [*run, str(tmp_path / "nothing")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "is not a folder" in flat(missing.stderr)


def test_a_results_json_outside_the_schema_is_unreadable_not_guessed(tmp_path):
    (tmp_path / "amy").mkdir()
    (tmp_path / "amy" / "results.json").write_text(json.dumps({"score": -1, "tests": []}))
    view = stats.load(tmp_path)
    assert view.graded == ()
    ((who, why),) = view.failed()
    assert who == "amy" and "not in the results format" in why
    with pytest.raises(stats.StatsError):
        stats.load(tmp_path / "amy" / "results.json")


# -- the score table of grader grade --------------------------------------------------------------
ALL_TOPICS = (
    "losses",
    "backprop",
    "conv",
    "batchnorm",
    "optimizers",
    "dropout",
    "rnn",
    "quantization",
    "cuda_timing",
)


def synthetic(student: str, right: int) -> SubmissionReport:
    """``right`` of every topic's ten checks (1.5 points each) pass."""
    results = []
    for topic in ALL_TOPICS:
        for i in range(10):
            ok = i < right
            outcome = Outcome.PASSED if ok else Outcome.WRONG
            results.append(
                CheckResult(
                    f"{topic}/f: case {i}",
                    topic,
                    "f",
                    "reference",
                    outcome,
                    1.5 * ok,
                    1.5,
                    "visible",
                    "",
                )
            )
    return SubmissionReport(student, tuple(results), "process", "seed", 0.0, ALL_TOPICS)


def table_text(width: int) -> str:
    reports = [synthetic("alice", 10), synthetic("bob", 7), synthetic("monkeypatch_numpy", 3)]
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    terminal.batch_table(reports, ALL_TOPICS, out=console)
    return console.export_text()


@pytest.mark.parametrize("width", (80, 120, 150, 200))
def test_the_score_table_fits_the_terminal(width):
    text = table_text(width)
    assert "…" not in text  # no cell cut short
    assert max(len(ln) for ln in text.splitlines()) <= width
    for student in ("alice", "bob", "monkeypatch_numpy"):
        assert any(ln.split()[:1] == [student] for ln in text.splitlines())
    bob = next(ln for ln in text.splitlines() if ln.split()[:1] == ["bob"])
    assert "94.5/135" in bob  # the total, in every form
    full_width = len("student") + sum(len(t) + 3 for t in ALL_TOPICS) + 30
    if width >= full_width:  # room for every topic: points per topic, as in gradebook.csv
        assert bob.split()[1 : 1 + len(ALL_TOPICS)] == ["10.5/15"] * len(ALL_TOPICS)
        assert "gradebook.csv" not in text
    else:
        assert "70%" in bob and "the full table is in gradebook.csv" in text


def test_a_narrow_table_is_compact_and_a_medium_one_is_in_percentages():
    narrow = table_text(80)
    assert "lowest topics" in narrow and "quantization" not in narrow.splitlines()[2]
    medium = table_text(120)
    bob = next(ln for ln in medium.splitlines() if ln.split()[:1] == ["bob"])
    assert bob.split()[1 : 1 + len(ALL_TOPICS)] == ["70%"] * len(ALL_TOPICS)
    assert "quan = quantization" in flat(medium)  # abbreviated topic names are explained

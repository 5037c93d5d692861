"""``grader checks [TOPIC ...]``: every check id, once, with the kind, points and visibility the
course gives it, grouped by topic, readable (and copyable) at 80 columns."""

from __future__ import annotations

import io
import json
import re
import textwrap

import pytest
from rich.console import Console

from grader import cli, config, registry
from grader.checks.base import Kind
from grader.reports import terminal

KINDS = "|".join(k.value for k in Kind)
VISIBILITIES = "hidden|after_due_date|after_published|visible"
ROW = re.compile(
    rf"^ *(?P<points>[0-9.]+) +(?P<kind>{KINDS}) +(?P<vis>{VISIBILITIES}) +(?P<id>\S.*)$"
)
CONTINUATION = re.compile(r"^ {20,}(?P<more>\S.*)$")  # the wrapped rest of an id


def run_checks(monkeypatch, course_path, argv: list[str], width: int) -> tuple[int, str]:
    out = Console(width=width, file=io.StringIO(), highlight=False)
    monkeypatch.setattr(terminal, "console", out)
    rc = cli.main(["--config", str(course_path), "checks", *argv])
    return rc, out.file.getvalue()


def parse(text: str) -> dict[str, list[tuple[str, float, str, str]]]:
    """topic -> rows (id, points, kind, visibility) as printed; a wrapped id is joined again."""
    topics: dict[str, list] = {}
    rows: list | None = None
    for line in text.splitlines():
        line = line.rstrip()
        if line in registry.available():  # a topic's title
            rows = topics.setdefault(line, [])
        elif line.startswith("checks per topic"):
            rows = None
        elif rows is not None and (m := ROW.match(line)):
            rows.append([m["id"], float(m["points"]), m["kind"], m["vis"]])
        elif rows and (m := CONTINUATION.match(line)):
            rows[-1][0] += " " + m["more"]
    return {t: [tuple(r) for r in rs] for t, rs in topics.items()}


def expected(course: config.Course, topic: str) -> list[tuple[str, float, str, str]]:
    spec = registry.topic(topic)
    return [
        (p.check_id, p.points, spec.check(p.check_id).kind.value, p.visibility)
        for p in course.plans[topic]
    ]


CONFIG = """
topics:
  losses:
    default_points: 1
    rules:
      - match: "losses/*: hidden:*"
        visibility: after_due_date
      - match: "losses/softmax_loss_vectorized: *"
        points: 3
  dropout:
    default_points: 0.5
"""


@pytest.fixture
def small_course(tmp_path):
    path = tmp_path / "autograder.yml"
    path.write_text(textwrap.dedent(CONFIG))
    return path


@pytest.mark.parametrize("width", [80, 120, 250])
def test_every_id_once_with_its_points_kind_and_visibility(monkeypatch, small_course, width):
    rc, text = run_checks(monkeypatch, small_course, [], width)
    assert rc == 0
    assert max(len(line) for line in text.splitlines()) <= width
    course = config.load(small_course)
    listed = parse(text)
    assert list(listed) == ["losses", "dropout"]  # grouped, in the course's order
    for topic in listed:
        assert listed[topic] == expected(course, topic)
    # what the rules of CONFIG say, independently of course.plans
    losses = {cid: (points, vis) for cid, points, _, vis in listed["losses"]}
    assert losses["losses/softmax_loss_vectorized: random N=8 D=5 C=4 reg=0.1"] == (3, "visible")
    assert losses["losses/svm_loss_naive: hidden: N=64 D=40 C=10 reg=0.05"] == (1, "after_due_date")
    assert {points for _, points, _, _ in listed["dropout"]} == {0.5}


def test_ids_are_wrapped_at_spaces_not_cut_at_80_columns(monkeypatch, course):
    rc, text = run_checks(monkeypatch, course.root / config.CONFIG_NAME, ["losses"], 80)
    assert rc == 0
    ids = [cid for cid, *_ in parse(text)["losses"]]
    assert ids == [p.check_id for p in course.plans["losses"]]
    longest = max(ids, key=len)
    assert len(longest) > 80 - 30  # so at least one id must wrap beside the other columns
    assert longest not in text and all(word in text for word in longest.split())
    assert "…" not in text


def test_counts_per_topic_at_the_end(monkeypatch, small_course):
    rc, text = run_checks(monkeypatch, small_course, ["dropout", "losses"], 100)
    course = config.load(small_course)
    tail = text[text.index("checks per topic") :]
    for topic in ("dropout", "losses"):
        plans = course.plans[topic]
        unseen = [p for p in plans if p.visibility != "visible"]
        counts = (
            len(plans),
            sum(p.points for p in plans),
            len(unseen),
            sum(p.points for p in unseen),
        )
        assert re.search(rf"^{topic} +{' +'.join(f'{n:g}' for n in counts)}$", tail, re.M), tail
    everything = sum(len(course.plans[t]) for t in ("dropout", "losses"))
    assert re.search(rf"^all +{everything} ", tail, re.M)
    assert list(parse(text)) == ["dropout", "losses"]  # the order asked for


def test_json_lists_the_same_rows(monkeypatch, small_course, capsys):
    rc, text = run_checks(monkeypatch, small_course, ["losses", "--json"], 80)
    assert rc == 0 and text == ""
    rows = json.loads(capsys.readouterr().out)
    course = config.load(small_course)
    got = [(r["check_id"], r["points"], r["kind"], r["visibility"]) for r in rows]
    assert got == expected(course, "losses")
    declared = {c.id for c in registry.topic("losses").checks if c.hidden}
    assert {r["check_id"] for r in rows if r["declared_hidden"]} == declared


def test_an_unknown_topic_is_a_clear_error(monkeypatch, small_course, capsys):
    rc, text = run_checks(monkeypatch, small_course, ["losses", "losess"], 80)
    assert rc == cli.EXIT_USAGE and text == ""
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown topic(s) losess" in err
    assert "this course has: losses, dropout" in err

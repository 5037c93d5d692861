"""``grader checks [TOPIC ...]``: every check id of the course with its kind, points and
visibility, as ``autograder.yml`` resolves them, for writing ``rules``.

One table per topic (one row per check, in declaration order), then the number of checks and
points per topic. Ids are wrapped at word boundaries, never cut, so that each one can be copied
into a rule; ``--json`` gives the same rows for programs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader import registry
from grader.config import Course


@dataclass(frozen=True)
class Listed:
    """One check as ``grader checks`` lists it."""

    topic: str
    check_id: str
    function: str
    kind: str
    points: float
    visibility: str  # as the course grades it (course.plans)
    declared_hidden: bool  # the check's declaration says hidden=True


def listing(course: Course, topics: Sequence[str]) -> list[Listed]:
    """The checks of ``topics`` (course topics, in that order) with the course's points."""
    rows = []
    for topic in topics:
        spec = registry.topic(topic)
        for plan in course.plans[topic]:
            check = spec.check(plan.check_id)
            rows.append(
                Listed(
                    topic,
                    plan.check_id,
                    check.function,
                    check.kind.value,
                    plan.points,
                    plan.visibility,
                    check.hidden,
                )
            )
    return rows


def as_json(rows: Sequence[Listed]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)


def _topic_table(topic: str, rows: Sequence[Listed]) -> Table:
    table = Table(
        title=f"[bold]{escape(topic)}[/]",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("visibility", no_wrap=True)
    table.add_column("check id", overflow="fold")  # wrapped at spaces, never cut
    for r in rows:
        table.add_row(f"{r.points:g}", r.kind, r.visibility, escape(r.check_id))
    return table


def _counts(topics: Sequence[str], rows: Sequence[Listed]) -> Table:
    table = Table(
        title="checks per topic",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    for name in ("topic", "checks", "points", "not visible", "their points"):
        table.add_column(name, justify="left" if name == "topic" else "right", no_wrap=True)
    for topic in (*topics, None):
        mine = [r for r in rows if topic in (None, r.topic)]
        unseen = [r for r in mine if r.visibility != "visible"]
        table.add_row(
            escape(topic) if topic else "[bold]all[/]",
            str(len(mine)),
            f"{sum(r.points for r in mine):g}",
            str(len(unseen)),
            f"{sum(r.points for r in unseen):g}",
            end_section=topic == topics[-1],
        )
    return table


def render(console: Console, topics: Sequence[str], rows: Sequence[Listed]) -> None:
    """The tables of ``grader checks`` on ``console`` (its width decides the wrapping)."""
    for topic in topics:
        console.print(_topic_table(topic, [r for r in rows if r.topic == topic]))
        console.print()
    console.print(_counts(topics, rows))

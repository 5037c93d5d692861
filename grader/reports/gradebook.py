"""gradebook.csv: one row per submission, per-topic columns, written atomically.

The last column, ``source``, is the file or folder each student id was read from: two
submissions whose names give the same id are told apart there (``grader.layouts.kit.unique_ids``).
Every text cell is made safe (``grader.reports.safe_text.cell``): one line, and never the start
of a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from grader.pipeline import SubmissionReport
from grader.reports.files import write_atomic
from grader.reports.safe_text import cell


def render(
    reports: list[SubmissionReport],
    topics: tuple[str, ...],
    sources: Mapping[str, str] | None = None,
) -> str:
    """The CSV text; ``sources`` maps a student id to the path it was read from."""
    sources = sources or {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["student_id", "score", "max_score", *topics, "status", "isolation_level", "source"]
    writer.writerow(header)
    for rep in sorted(reports, key=lambda r: r.student_id):
        scores = rep.topic_scores()
        writer.writerow(
            [
                cell(rep.student_id),
                f"{rep.score:g}",
                f"{rep.max_score:g}",
                *(f"{scores.get(t, (0, 0))[0]:g}" for t in topics),
                cell(rep.status),
                cell(rep.isolation),
                cell(sources.get(rep.student_id, "")),
            ]
        )
    return buf.getvalue()


def write(
    path: Path,
    reports: list[SubmissionReport],
    topics: tuple[str, ...],
    sources: Mapping[str, str] | None = None,
) -> None:
    write_atomic(path, render(reports, topics, sources))

"""gradebook.csv: one row per submission, per-topic columns, written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.pipeline import SubmissionReport
from grader.reports.files import write_atomic


def render(reports: list[SubmissionReport], topics: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "score", "max_score", *topics, "status", "isolation_level"])
    for rep in sorted(reports, key=lambda r: r.student_id):
        scores = rep.topic_scores()
        writer.writerow(
            [
                rep.student_id,
                f"{rep.score:g}",
                f"{rep.max_score:g}",
                *(f"{scores.get(t, (0, 0))[0]:g}" for t in topics),
                rep.status,
                rep.isolation,
            ]
        )
    return buf.getvalue()


def write(path: Path, reports: list[SubmissionReport], topics: tuple[str, ...]) -> None:
    write_atomic(path, render(reports, topics))

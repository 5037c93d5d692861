"""What the platform agreement scripts (``agreement_otter.py``, ``agreement_nbgrader.py``)
share: their command line, the students and topics it chooses, the per-row log and the
Markdown table of one student."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions"


def arguments(doc: str, argv: list[str] | None) -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--students", help="comma-separated student folders (default: all)")
    parser.add_argument("--topics", help="comma-separated topics (default: all)")
    parser.add_argument("--json", type=Path, help="write every row here as JSON")
    parser.add_argument("--log", type=Path, help="append one JSON line per row as it finishes")
    return parser, parser.parse_args(argv)


def chosen(args: Any, all_topics: tuple[str, ...]) -> tuple[tuple[str, ...], list[Path]]:
    """The topics and the student folders ``args`` name (default: every one)."""
    topics = tuple(args.topics.split(",")) if args.topics else all_topics
    if args.students:
        return topics, [EXAMPLES / s for s in args.students.split(",")]
    return topics, sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def log(args: Any, row: dict[str, Any]) -> None:
    """Append ``row`` to ``--log`` as it finishes (a cut-short run keeps what ran)."""
    if args.log:
        with args.log.open("a") as f:
            f.write(json.dumps(row) + "\n")


def table(
    student: str,
    rows: list[dict[str, Any]],
    columns: Sequence[tuple[str, str, Callable[[dict[str, Any]], object]]],
) -> str:
    """One student's Markdown table: ``columns`` are (header, alignment row, cell of a row)."""
    lines = [
        f"### {student}",
        "",
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "|" + "|".join(align for _, align, _ in columns) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(str(cell(r)) for _, _, cell in columns) + " |")
    return "\n".join(lines) + "\n"

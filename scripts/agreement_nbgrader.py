"""Agreement of ``grader export nbgrader`` with the kit: every submission, every topic, real
nbgrader.

    python scripts/agreement_nbgrader.py [--students a,b] [--topics t,u] [--json OUT] [--log LOG]

The nbgrader course is exported once into a temporary folder and ``generate_assignment`` run
once per topic. For every student folder of ``examples/submissions`` and every topic whose
``<topic>.py`` the student has, the released notebook with that module in its solution cell is
handed in (``submitted/<student>/<topic>/``) and autograded through ``NbGraderAPI``; the
gradebook's points per grade cell (one per function) are compared with the kit's own grading
of the same file (``grade_batch``, once per student). A missing module is 0 on both sides
(nbgrader is not run). Prints one Markdown table per student: kit total vs nbgrader total per
topic, whether every function got the same points, and the seconds of each autograde.
``--log`` appends one JSON line per (student, topic) as it finishes, so a cut-short run keeps
what ran. Exits 1 when any pair disagrees. nbgrader needs ``alembic`` on PATH.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import agreement_common as common  # beside this script

REPO = common.REPO
sys.path.insert(0, str(REPO))

from grader import config  # noqa: E402
from grader.batch import grade_batch  # noqa: E402
from grader.exporters import nbgrader  # noqa: E402
from grader.exporters import nbgrader_course as nbc  # noqa: E402


def kit_results(course: Any, student: Path, topics: list[str], work: Path) -> dict[str, Any]:
    """The kit's results.json of ``student``'s modules of ``topics``, graded in one batch."""
    sub = work / "in" / student.name
    sub.mkdir(parents=True)
    for topic in topics:
        shutil.copy(student / f"{topic}.py", sub)
    grade_batch(course, [sub], work / "out", tuple(topics))
    return json.loads((work / "out" / student.name / "results.json").read_text())


def autograde(api: Any, root: Path, student: Path, topic: str) -> tuple[dict, float, str]:
    """Hand in ``student``'s module of ``topic`` in the released notebook and autograde it:
    the gradebook's points per grade cell, the seconds autograde took, and its log on failure."""
    code = (student / f"{topic}.py").read_text()
    nbc.hand_in(root, topic, student.name, nbc.with_module(nbc.released(root, topic), topic, code))
    start = time.perf_counter()
    result = api.autograde(topic, student.name, create=True)
    seconds = round(time.perf_counter() - start, 2)
    if not result["success"]:
        return {}, seconds, str(result.get("log") or result.get("error"))[-2000:]
    return nbc.gradebook_scores(api, topic, student.name), seconds, ""


def agree(
    course: Any, api: Any, made: nbgrader.Export, student: Path, topic: str, kit: dict
) -> dict[str, Any]:
    """One (student, topic) row: both totals, both per-function maps, nbgrader's seconds."""
    present = (student / f"{topic}.py").exists()
    row: dict[str, Any] = {"student": student.name, "topic": topic, "present": present}
    if not present:
        row.update(kit=0.0, nbgrader=0.0, functions_equal=True, nbgrader_s=0.0)
        return row
    cells = made.cells[topic]
    kc = nbc.kit_cell_scores(course, kit, topic)
    got, seconds, error = autograde(api, made.course_dir, student, topic)
    nc = {grade_id: score for grade_id, score in got.items() if grade_id in cells}
    row.update(
        kit=round(sum(kc.values()), 6),
        nbgrader=round(sum(nc.values()), 6),
        kit_functions=kc,
        nbgrader_functions=nc,
        functions_equal=set(kc) == set(nc) == set(cells)
        and all(abs(kc[g] - nc[g]) < 1e-9 for g in kc),
        nbgrader_s=seconds,
    )
    if error:
        row["nbgrader_error"] = error
    return row


def table(student: str, rows: list[dict[str, Any]]) -> str:
    def mark(r: dict[str, Any]) -> str:
        if not r["present"]:
            return "missing (0/0, not run)"
        return "yes" if r["functions_equal"] else "NO"

    columns = [
        ("topic", "---", lambda r: r["topic"]),
        ("kit total", "---:", lambda r: f"{r['kit']:g}"),
        ("nbgrader total", "---:", lambda r: f"{r['nbgrader']:g}"),
        ("every function equal", ":---:", mark),
        ("nbgrader s", "---:", lambda r: r["nbgrader_s"]),
    ]
    return common.table(student, rows, columns)


def summary(rows: list[dict[str, Any]]) -> str:
    ran = [r for r in rows if r["present"]]
    agreeing = sum(r["functions_equal"] for r in ran)
    line = f"{agreeing}/{len(ran)} (student, topic) pairs run agree"
    line += f"; {len(rows) - len(ran)} without a module (0 on both sides, nbgrader not run)"
    if ran:
        seconds = [r["nbgrader_s"] for r in ran]
        line += f"; nbgrader autograde median {statistics.median(seconds):.2f} s"
        line += f" (min {min(seconds):.2f}, max {max(seconds):.2f})"
    return line


def main(argv: list[str] | None = None) -> int:
    parser, args = common.arguments(__doc__, argv)
    if shutil.which("alembic") is None:
        parser.error("nbgrader needs alembic on PATH (the environment's bin folder)")
    course = config.load(REPO / "autograder.yml")
    topics, students = common.chosen(args, course.topics)
    handed = [t for t in topics if any((s / f"{t}.py").exists() for s in students)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="agreement-nbgrader-") as tmp:
        work = Path(tmp)
        made = nbgrader.export(course, REPO / "autograder.yml", work / "course", tuple(handed))
        with nbc.opened(made.course_dir) as api:
            for topic in handed:
                result = api.generate_assignment(topic)
                if not result["success"]:
                    print(f"generate_assignment {topic} failed:\n{result['log']}")
                    return 2
            for student in students:
                present = [t for t in topics if (student / f"{t}.py").exists()]
                kit = {"tests": []}
                if present:
                    kit = kit_results(course, student, present, work / "kit" / student.name)
                mine = []
                for topic in topics:
                    row = agree(course, api, made, student, topic, kit)
                    mine.append(row)
                    common.log(args, row)
                rows.extend(mine)
                print(table(student.name, mine), flush=True)
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if any(not r["functions_equal"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

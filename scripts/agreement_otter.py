"""Agreement of ``grader export otter`` with the kit: every submission, every topic, real otter.

    python scripts/agreement_otter.py [--students a,b] [--topics t,u] [--json OUT] [--log LOG]

For every student folder of ``examples/submissions`` and every topic, the kit grades the
student's ``<topic>.py`` directly (``grade_batch``) and ``otter run`` grades the same file on the
exported ``<topic>/autograder.zip``; a missing module is 0 on both sides (otter is not run).
Prints one Markdown table per student: kit total vs otter total per topic, whether every
question (``<topic>-<function>``) got the same score, and the seconds of each side. ``--log``
appends one JSON line per (student, topic) as it finishes, so a cut-short run keeps what ran.
"""

from __future__ import annotations

import json
import os
import subprocess
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
from grader.exporters import otter  # noqa: E402


def kit_questions(results: dict[str, Any], topic: str) -> dict[str, float]:
    """Score per otter question (``<topic>-<function>``) from the kit's results.json."""
    scores: dict[str, float] = {}
    for test in results.get("tests", []):
        name = str(test.get("name", ""))
        if not name.startswith(f"{topic}/"):
            continue
        function = name.split("/", 1)[1].split(":", 1)[0]
        key = f"{topic}-{function}"
        scores[key] = scores.get(key, 0.0) + float(test.get("score") or 0.0)
    return scores


def otter_questions(results: dict[str, Any], topic: str) -> dict[str, float]:
    """Score per question of otter's results.json (its 0-point "Public Tests" summary aside)."""
    tests = results.get("tests", [])
    return {
        str(t["name"]): float(t.get("score") or 0.0)
        for t in tests
        if str(t.get("name", "")).startswith(f"{topic}-")
    }


def run_otter(zip_path: Path, module: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(out)]
    done = subprocess.run([*command, str(module)], env=env, capture_output=True, text=True)
    path = out / "results.json"
    if done.returncode != 0 or not path.exists():
        return {"tests": [], "error": (done.stdout + done.stderr)[-2000:]}
    return json.loads(path.read_text())


def agree(course: Any, student: Path, topic: str, zip_path: Path, work: Path) -> dict[str, Any]:
    """One (student, topic) row: both totals, both question maps, both times."""
    module = student / f"{topic}.py"
    row: dict[str, Any] = {"student": student.name, "topic": topic, "present": module.exists()}
    if not module.exists():
        row.update(kit=0.0, otter=0.0, questions_equal=True, kit_s=0.0, otter_s=0.0)
        return row
    base = work / student.name / topic
    sub = base / "sub" / student.name
    sub.mkdir(parents=True)
    (sub / module.name).write_bytes(module.read_bytes())
    start = time.perf_counter()
    grade_batch(course, [sub], base / "kit", (topic,))
    row["kit_s"] = round(time.perf_counter() - start, 2)
    kit_results = json.loads((base / "kit" / student.name / "results.json").read_text())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    start = time.perf_counter()
    otter_results = run_otter(zip_path, sub / module.name, base / "otter", env)
    row["otter_s"] = round(time.perf_counter() - start, 2)
    kq, oq = kit_questions(kit_results, topic), otter_questions(otter_results, topic)
    row.update(
        kit=round(sum(kq.values()), 6),
        otter=round(sum(oq.values()), 6),
        kit_questions=kq,
        otter_questions=oq,
        questions_equal=set(kq) == set(oq) and all(abs(kq[q] - oq[q]) < 1e-9 for q in kq),
    )
    if "error" in otter_results:
        row["otter_error"] = otter_results["error"]
    return row


def table(student: str, rows: list[dict[str, Any]]) -> str:
    def mark(r: dict[str, Any]) -> str:
        return "missing (0/0)" if not r["present"] else ("yes" if r["questions_equal"] else "NO")

    columns = [
        ("topic", "---", lambda r: r["topic"]),
        ("kit total", "---:", lambda r: f"{r['kit']:g}"),
        ("otter total", "---:", lambda r: f"{r['otter']:g}"),
        ("every question equal", ":---:", mark),
        ("kit s", "---:", lambda r: r["kit_s"]),
        ("otter s", "---:", lambda r: r["otter_s"]),
    ]
    return common.table(student, rows, columns)


def main(argv: list[str] | None = None) -> int:
    _parser, args = common.arguments(__doc__, argv)
    course = config.load(REPO / "autograder.yml")
    topics, students = common.chosen(args, course.topics)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="agreement-otter-") as tmp:
        work = Path(tmp)
        zips = otter.export(course, REPO / "autograder.yml", work / "export", topics).zips
        for student in students:
            mine = []
            for topic in topics:
                row = agree(course, student, topic, zips[topic], work / "runs")
                mine.append(row)
                common.log(args, row)
            rows.extend(mine)
            print(table(student.name, mine), flush=True)
    disagree = [r for r in rows if not r["questions_equal"]]
    print(f"{len(rows)} (student, topic) pairs, {len(disagree)} disagree")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())

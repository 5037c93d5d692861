"""Does the exported Gradescope autograder grade as the kit does? Every example submission.

For each submission in ``examples/submissions`` (or those named), this builds a fresh simulated
``/autograder`` tree (the exported zip unpacked into ``source/``, the student's modules in
``submission/``, a ``submission_metadata.json`` naming the student), runs the zip's
``run_autograder`` on it (``GRADER_AUTOGRADER_ROOT``), and compares its results.json, check by
check (name, score, status), to a direct ``python -m grader grade`` of the same files with the
same ``autograder.yml`` and course secret. It prints a Markdown table and, with ``--json``,
writes the figures.

    PYTHONPATH=$PWD python scripts/agreement_gradescope.py --jobs 2 --json agreement.json
    PYTHONPATH=$PWD python scripts/agreement_gradescope.py --topic losses alice bob
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader import config  # noqa: E402
from grader.exporters import gradescope  # noqa: E402

EXAMPLES = REPO / "examples" / "submissions"
CONFIG = REPO / "autograder.yml"


@dataclass(frozen=True)
class Row:
    """One submission: both scores, whether every check agreed, the platform run's seconds."""

    student: str
    kit_score: float
    kit_max: float
    platform_score: float
    platform_max: float
    checks: int
    every_check_equal: bool
    differences: list[str]
    platform_student_id: str
    platform_s: float


def per_check(data: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {t["name"]: (t["score"], t["status"]) for t in data["tests"]}


def environment(secret: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADER_PYTHON": sys.executable}
    env.pop(gradescope.ROOT_ENV, None)
    return {**env, "GRADER_SECRET": secret, **extra}


def direct(students: list[str], topics: list[str], out: Path, jobs: int, secret: str) -> None:
    """A direct ``python -m grader grade`` of the same folders into ``out/<student>``."""
    command = [sys.executable, "-m", "grader", "--config", str(CONFIG), "grade"]
    command += [str(EXAMPLES / s) for s in students]
    command += ["--out", str(out), "--jobs", str(jobs), "--layout", "auto"]
    command += [arg for t in topics for arg in ("--topic", t)]
    subprocess.run(command, env=environment(secret), check=True, cwd=REPO, capture_output=True)


def platform(export: gradescope.Export, student: str, base: Path) -> tuple[dict[str, Any], float]:
    """``run_autograder`` on a fresh simulated tree for ``student``: its results.json, seconds."""
    root = base / student / "autograder"
    with zipfile.ZipFile(export.zip_path) as archive:
        archive.extractall(root / "source")
    for script in gradescope.SCRIPTS:
        (root / "source" / script).chmod(0o755)
    (root / "submission").mkdir(parents=True)
    for module in (EXAMPLES / student).glob("*.py"):
        shutil.copy(module, root / "submission" / module.name)
    metadata = {
        "id": 1000 + len(student),
        "users": [{"email": f"{student}@example.edu", "id": 7, "name": student.title()}],
        "assignment": {"id": 1, "title": "agreement"},
    }
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    # the course secret comes from the zip's file: the variable must not be the one used
    env = environment("not-the-course-secret", **{gradescope.ROOT_ENV: str(root)})
    started = time.perf_counter()
    subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, check=True
    )
    seconds = time.perf_counter() - started
    data = json.loads((root / "results" / "results.json").read_text())
    shutil.rmtree(root, ignore_errors=True)
    return data, seconds


def compare(student: str, kit: dict[str, Any], plat: dict[str, Any], seconds: float) -> Row:
    k, p = per_check(kit), per_check(plat)
    names = sorted(k | p)
    diff = [f"{n}: kit {k.get(n)} platform {p.get(n)}" for n in names if k.get(n) != p.get(n)]
    if (kit["score"], kit.get("max_score")) != (plat["score"], plat.get("max_score")):
        diff.append(f"total: kit {kit['score']} platform {plat['score']}")
    return Row(
        student,
        kit["score"],
        kit.get("max_score", 0.0),
        plat["score"],
        plat.get("max_score", 0.0),
        len(k),
        not diff,
        diff,
        str(plat["extra_data"].get("student_id", "")),
        round(seconds, 1),
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| student | kit score | platform score | every check equal | s per submission |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        equal = f"yes ({r.checks})" if r.every_check_equal else f"NO ({len(r.differences)} differ)"
        lines.append(
            f"| {r.student} | {r.kit_score:g}/{r.kit_max:g} | "
            f"{r.platform_score:g}/{r.platform_max:g} | {equal} | {r.platform_s:.1f} |"
        )
    agree = sum(r.every_check_equal for r in rows)
    lines.append(f"\n{agree}/{len(rows)} submissions agree check by check.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("students", nargs="*", help="submissions (default: every example)")
    parser.add_argument("--topic", action="append", dest="topics", default=[])
    parser.add_argument("--jobs", type=int, default=1, help="platform runs at once")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    students = args.students or sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    course = config.load(CONFIG)
    with tempfile.TemporaryDirectory(prefix="agreement-gradescope-") as tmp:
        base = Path(tmp)
        export = gradescope.export(course, CONFIG, base / "autograder.zip", tuple(args.topics))
        started = time.perf_counter()
        direct(students, args.topics, base / "direct", args.jobs, course.secret)
        direct_s = time.perf_counter() - started
        print(f"direct grade of {len(students)} submissions: {direct_s:.0f} s", file=sys.stderr)

        def one(student: str) -> Row:
            kit = json.loads((base / "direct" / student / "results.json").read_text())
            plat, seconds = platform(export, student, base / "trees")
            row = compare(student, kit, plat, seconds)
            print(f"{student}: equal={row.every_check_equal} {seconds:.1f} s", file=sys.stderr)
            return row

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            rows = list(pool.map(one, students))
    print(table(rows))
    if args.json:
        figures = {"topics": args.topics or list(course.topics), "direct_batch_s": direct_s}
        figures["rows"] = [asdict(r) for r in rows]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(r.every_check_equal for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

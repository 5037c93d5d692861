"""The malformed-submission matrix as a markdown table (for the closing note of issue 18).

    PYTHONPATH=$PWD python scripts/malformed_matrix.py [--keep DIR]

Builds every case of ``tests/layouts/malformed_cases.py`` beside a correct submission (alice) in
one batch folder, runs ``grader grade`` once on the ``dropout`` topic, and prints, per case, what
it is and the result it got (gradebook status, score, reason), then alice's, the exit status and
the wall time. Exit 1 when a case did not get the result the test module expects.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.layouts import malformed_cases as cases  # noqa: E402


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:140]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build and grade in DIR (kept afterwards)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        skipped = cases.build(root / "batch")
        started = time.perf_counter()
        done = cases.grade(root / "batch", root / "out")
        took = time.perf_counter() - started
        found = cases.results(root / "out")
    print("| case | what it is | status | score | result |")
    print("|---|---|---|---:|---|")
    wrong = 0
    for case in cases.CASES:
        if case.file in skipped:
            print(f"| `{case.file}` | {case.what} | skipped | | {skipped[case.file]} |")
            continue
        got = cases.result_of(case, found)
        if got is None:
            wrong += 1
            print(f"| `{case.file}` | {case.what} | MISSING | | no result |")
            continue
        ok = got.status == case.status and case.reason in got.reason
        wrong += not ok
        mark = "" if ok else " **(unexpected)**"
        print(
            f"| `{case.file}` | {case.what} | {got.status}{mark} | {got.score} | "
            f"{_cell(got.reason)} |"
        )
    alice = found.get("alice")
    print(
        f"| `alice/` | a correct submission | {alice and alice.status} | "
        f"{alice and alice.score} | {alice and _cell(alice.reason)} |"
    )
    print(
        f"\n`grader grade` exit status {done.returncode}, {took:.1f} s for "
        f"{len(found)} submissions (one run)."
    )
    return 1 if wrong or done.returncode else 0


if __name__ == "__main__":
    sys.exit(main())

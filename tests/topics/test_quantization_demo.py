"""scripts/compression_demo.py runs end to end on the reference module: every row is there,
compression grows down the table, and the uncompressed network has learned the task.

The demo runs as its own process, as a user runs it (it limits BLAS threads before numpy loads).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "compression_demo.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEMO), *args], capture_output=True, text=True, timeout=120
    )


def test_demo_table(tmp_path):
    out = tmp_path / "table.md"
    done = _run("--module", str(REPO / "solutions" / "quantization.py"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 8
    ratios = [float(r.split("|")[4].strip().rstrip("x")) for r in rows]
    accuracies = [float(r.split("|")[5].strip().rstrip("%")) for r in rows]
    assert ratios[0] == 1.0 and accuracies[0] > 90.0
    assert ratios[2] < ratios[3] < ratios[4] < ratios[5] < ratios[6] < ratios[7]
    assert all(a > 50.0 for a in accuracies)  # five classes: chance is 20%
    assert "table.png" in done.stdout or "matplotlib is not installed" in done.stdout


def test_demo_reports_an_unimplemented_module():
    done = _run("--module", str(REPO / "assignments" / "quantization.py"))
    assert done.returncode == 1
    assert "not implemented yet" in done.stderr

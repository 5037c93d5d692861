"""A hostile submission graded beside a classmate changes nothing of the classmate's grade.

``grader grade --jobs 2`` grades a spinner (a naive conv that leaves dozens of spinning processes
and a busy thread behind, at import and after every call: ``tests/checks/test_speed.py``) at the
same time as an honest, correct but slow conv (the fast functions call the naive ones); the
honest one is also graded alone. Its check outcomes and scores must be the same in both runs
(timings aside, which the spinner's load may stretch; its speed checks fail either way, by far),
and the spinner earns nothing the honest one does not. About a minute: marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.checks.test_speed import SLOW, SPINNERS, _ratio

REPO = Path(__file__).resolve().parents[2]
# the spinner's backward naive too, spinning as well: everything it has is the honest one's
SPINNING_BACKWARD = """

def conv_backward_fast(dout, cache):
    _spawn(3)
    return conv_backward_naive(dout, cache)
"""


def _grade(out: Path, folder: Path, jobs: int) -> None:
    cmd = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out)]
    cmd += ["--topic", "conv", "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]


def _checks(results: Path) -> dict[str, tuple[str, float]]:
    data = json.loads(results.read_text())
    return {t["name"]: (t["extra_data"]["outcome"], t["score"]) for t in data["tests"]}


def _speed(results: Path) -> dict[str, str]:
    data = json.loads(results.read_text())
    return {t["name"]: t["output"] for t in data["tests"] if t["extra_data"]["kind"] == "speed"}


@pytest.mark.slow
def test_a_spinner_graded_beside_a_classmate_changes_none_of_its_results(tmp_path):
    reference = (REPO / "solutions" / "conv.py").read_text()
    together, alone = tmp_path / "together", tmp_path / "alone"
    for folder in (together / "honest", alone / "honest", together / "spinner"):
        folder.mkdir(parents=True)
    for folder in (together / "honest", alone / "honest"):
        (folder / "conv.py").write_text(reference + SLOW)
    (together / "spinner" / "conv.py").write_text(reference + SPINNERS + SPINNING_BACKWARD)
    _grade(tmp_path / "out-alone", alone, jobs=1)
    _grade(tmp_path / "out-together", together, jobs=2)

    by_itself = _checks(tmp_path / "out-alone" / "honest" / "results.json")
    beside = _checks(tmp_path / "out-together" / "honest" / "results.json")
    spinner = _checks(tmp_path / "out-together" / "spinner" / "results.json")
    assert beside == by_itself
    assert spinner == by_itself  # spinning bought it nothing
    speed = {name: result for name, result in by_itself.items() if "speed:" in name}
    assert len(speed) == 2 and {o for o, _ in speed.values()} == {"wrong"}
    for label, out, who in (
        ("alone", "out-alone", "honest"),
        ("beside the spinner", "out-together", "honest"),
        ("the spinner", "out-together", "spinner"),
    ):
        for message in _speed(tmp_path / out / who / "results.json").values():
            timing = message.split(" timed the same way")[0]  # "... took X ms, the reference Y ms"
            print(f"{label}: {timing}: {1 / _ratio(message):.0f}x slower")

"""Without a GPU, with the reference's answers kept, the judge grades the torch topics without
importing torch (only their workers do, forked from a template that has it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sim import judge_has_cuda

REPO = Path(__file__).resolve().parents[2]
GRADE = """
import json, sys, tempfile
from pathlib import Path
from grader import config, pipeline
from grader.layouts.kit import submission

root, topics = Path(sys.argv[1]), ("frameworks", "cuda_timing")
course = config.load(root / "autograder.yml", topics=topics)
with tempfile.TemporaryDirectory() as scratch:
    sub = submission(root / "examples/submissions/alice", topics, Path(scratch))
    report = pipeline.grade_submission(course, sub, topics)
print(json.dumps({"torch": "torch" in sys.modules, "score": report.score, "max": report.max_score}))
"""


@pytest.mark.skipif(judge_has_cuda(), reason="with a GPU the judge uses torch.cuda itself")
def test_a_warm_judge_grades_the_torch_topics_without_torch(tmp_path):
    env = {**os.environ, "GRADER_EXPECTED_CACHE": str(tmp_path), "PYTHONPATH": str(REPO)}
    runs = []
    for _ in range(2):  # the first run computes and keeps the answers, the second replays them
        done = subprocess.run(
            [sys.executable, "-c", GRADE, str(REPO)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["torch"] is True  # the reference itself ran here
    assert warm["torch"] is False
    assert warm["score"] == cold["score"] and warm["max"] == cold["max"] > 0

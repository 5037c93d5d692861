"""`grader validate` and its parts: the shipped course is consistent, and drift is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace

from grader.validate import api_problems, validate


def test_validate_passes_on_the_shipped_course(course):
    result = validate(course, course.topics)
    assert result.problems == ()
    assert result.solutions.score == result.solutions.max_score > 0
    assert result.stubs.score == 0
    outcomes = {r.outcome.value for r in result.stubs.results if r.topic != "cuda_timing"}
    assert outcomes == {"not_implemented"}
    # cuda_timing: checks that cannot run on this machine (GPU-only without CUDA, simulated
    # ones with CUDA) are not_run and do not count; every other one is not_implemented
    for r in result.stubs.results:
        if r.topic == "cuda_timing":
            assert r.outcome.value == ("not_implemented" if r.counts else "not_run"), r.check_id


def test_validate_cli_exit_code(course):
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "validate"],
        cwd=course.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validate: OK" in proc.stdout


def test_signature_and_docstring_drift_is_reported(course, tmp_path):
    shutil.copytree(course.assignments_dir, tmp_path / "assignments")
    stub = tmp_path / "assignments" / "losses.py"
    text = stub.read_text()
    text = text.replace("def svm_loss(x: np.ndarray, y: np.ndarray)", "def svm_loss(x, y, z=1)")
    text = text.replace(
        "Multiclass SVM loss and gradient, computed with explicit loops",
        "Multiclass SVM loss, loops",
    )
    stub.write_text(text)
    moved = replace(
        course,
        config=course.config.model_copy(update={"assignments": str(tmp_path / "assignments")}),
    )
    problems = api_problems(moved, ("losses",))
    assert any("svm_loss signature differs" in p for p in problems)
    assert any("svm_loss_naive docstring differs" in p for p in problems)
    assert any("is not the stub generated" in p for p in problems)


def test_a_missing_solution_is_a_problem_not_a_crash(course, tmp_path):
    solutions = tmp_path / "solutions"
    shutil.copytree(course.solutions_dir, solutions)
    (solutions / "dropout.py").unlink()
    moved = replace(course, config=course.config.model_copy(update={"solutions": str(solutions)}))
    result = validate(moved, ("dropout",))
    assert not result.ok
    assert result.problems == (
        f"dropout: {solutions / 'dropout.py'} is missing (the reference solution of the topic)",
    )

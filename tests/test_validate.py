"""`grader validate` and its parts: the shipped course is consistent, and drift is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import yaml

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


def _two_topic_course(course, folder: Path, assignments: Path) -> Path:
    """autograder.yml with two of its topics, the tree's solutions and ``assignments``: the
    command line's part, without grading the whole course again (the test above does)."""
    data = yaml.safe_load((course.root / "autograder.yml").read_text(encoding="utf-8"))
    data["topics"] = {t: data["topics"][t] for t in ("losses", "dropout")}
    data.update(solutions=str(course.solutions_dir), assignments=str(assignments))
    data.pop("secret_file", None)
    path = folder / "autograder.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _validate_cli(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "--config", str(config), "validate"],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_validate_cli_exit_code(course, tmp_path):
    proc = _validate_cli(_two_topic_course(course, tmp_path, course.assignments_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validate: OK" in proc.stdout
    # a stub out of step with its solution: the command fails, naming it
    shutil.copytree(course.assignments_dir, tmp_path / "drifted")
    stub = tmp_path / "drifted" / "dropout.py"
    stub.write_text(stub.read_text().replace("def dropout_forward(", "def dropout_forward(z, "))
    proc = _validate_cli(_two_topic_course(course, tmp_path, tmp_path / "drifted"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dropout_forward" in proc.stdout + proc.stderr
    assert "validate: OK" not in proc.stdout


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

"""Plain pytest runs the public checks through the same engine as `grader check`."""

from __future__ import annotations

import shutil

import pytest
import topic_files

from grader.layouts.kit import submission
from grader.pipeline import grade_submission

pytest_plugins = ["pytester"]


@pytest.fixture
def kit(pytester, course):
    """A course folder: autograder.yml, solutions/, and assignments/ to fill per test."""
    shutil.copy(course.root / "autograder.yml", pytester.path / "autograder.yml")
    shutil.copytree(course.solutions_dir, pytester.path / "solutions")
    (pytester.path / "assignments").mkdir()
    return pytester


def public_count(course, topic: str, function: str = "") -> int:
    prefix = f"{topic}/{function}" + (": " if function else "")
    return sum(
        p.visibility == "visible" and p.check_id.startswith(prefix) for p in course.plans[topic]
    )


def test_solutions_pass_every_public_check(kit, course):
    shutil.copy(course.solutions_dir / "losses.py", kit.path / "assignments" / "losses.py")
    result = kit.runpytest_subprocess("assignments/losses.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=public_count(course, "losses"))


def test_stubs_fail_with_the_kits_feedback(kit, course):
    shutil.copy(course.assignments_dir / "losses.py", kit.path / "assignments" / "losses.py")
    result = kit.runpytest_subprocess("assignments", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=public_count(course, "losses"))
    result.stdout.fnmatch_lines(
        ["*[[]not_implemented[]] svm_loss_naive raised NotImplementedError*"]
    )


def test_same_results_as_grader_check(kit, course, tmp_path):
    source = (course.solutions_dir / "losses.py").read_text()
    buggy = source.replace("    margins[rows, y] = 0.0\n", "", 1)
    (kit.path / "assignments" / "losses.py").write_text(buggy)
    result = kit.runpytest_subprocess("assignments", "-p", "no:cacheprovider", "-rf")
    sub = submission(kit.path / "assignments", ("losses",), tmp_path)
    report = grade_submission(course, sub, ("losses",), only_public=True)
    failed = sorted(r.check_id.split("/", 1)[1] for r in report.results if not r.passed)
    assert failed
    result.assert_outcomes(passed=len(report.results) - len(failed), failed=len(failed))
    for name in failed:
        assert any(name in line for line in result.outlines if line.startswith("FAILED"))


def test_files_outside_an_assignments_folder_are_not_collected(pytester):
    pytester.makepyfile(losses="def f():\n    pass\n")
    result = pytester.runpytest_subprocess("losses.py", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_input_mutation_is_a_pytest_warning_at_the_students_function(kit, course):
    source = topic_files.examples() / "mutates_inputs" / "losses.py"
    shutil.copy(source, kit.path / "assignments" / "losses.py")
    line = next(
        i
        for i, text in enumerate(source.read_text().splitlines(), 1)
        if text.startswith("def svm_loss_vectorized(")
    )
    result = kit.runpytest_subprocess(
        "assignments", "-p", "no:cacheprovider", "-k", "svm_loss_vectorized"
    )
    result.assert_outcomes(passed=public_count(course, "losses", "svm_loss_vectorized"))
    result.stdout.fnmatch_lines(
        [
            "*warnings summary*",
            "*losses.py::svm_loss_vectorized: inputs unchanged",
            f"*assignments/losses.py:{line}: InputMutationWarning: svm_loss_vectorized(*"
            "modified its input(s) X*",
        ]
    )


def test_an_exception_names_the_students_file_and_line(kit):
    source = topic_files.examples() / "raises" / "losses.py"
    shutil.copy(source, kit.path / "assignments" / "losses.py")
    line = next(
        i for i, text in enumerate(source.read_text().splitlines(), 1) if "raise ValueError" in text
    )
    result = kit.runpytest_subprocess(
        "assignments", "-p", "no:cacheprovider", "-k", "svm_loss_vectorized and random"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*svm_loss_vectorized raised ValueError: shapes do not line up",
            f'  at losses.py:{line} in svm_loss_vectorized: raise ValueError("shapes do not*',
        ]
    )
    assert "calls.py" not in result.stdout.str()

"""What every example test asserts about its buggy student, shared by the example test files
that declare ``MISTAKES`` (function -> named mistake) and ``MESSAGES`` (check id -> fragments
its message must contain)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grader.pipeline import CheckResult


def by_id(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    return {r.check_id: r for r in results}


def failed(results: Iterable[CheckResult], function: str | None = None) -> list[CheckResult]:
    return [r for r in results if not r.passed and function in (None, r.function) and r.counts]


def only_the_bugged_functions_fail(results: list[CheckResult], mistakes: Mapping) -> None:
    assert {r.function for r in failed(results)} == set(mistakes)
    assert all(r.outcome.value == "wrong" for r in failed(results))


def failing_checks_name_the_mistake(
    results: list[CheckResult], function: str, mistake: str
) -> None:
    named = {r.misconception for r in failed(results, function)}
    assert mistake in named
    assert named <= {mistake, None}, f"{function}: unrelated mistakes named: {named}"


def check_names_its_mistake(result: CheckResult, mistakes: Mapping) -> None:
    assert result.outcome.value == "wrong"
    assert result.misconception == mistakes[result.function]
    assert f"looks like a known mistake: {result.misconception}" in result.message


def message_contains(result: CheckResult, fragments: Iterable[str]) -> None:
    for fragment in fragments:
        assert fragment in result.message, f"{fragment!r} not in:\n{result.message}"

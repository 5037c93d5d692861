"""results.json in Gradescope's autograder format, with the kit's extensions in extra_data.

The schema (``results.schema.json``, a copy of the contract) is checked on every write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from grader import __version__
from grader.i18n import message, outcome, tr
from grader.pipeline import CheckResult, SubmissionReport


@cache
def schema() -> dict[str, Any]:
    text = resources.files("grader.reports").joinpath("results.schema.json").read_text()
    return json.loads(text)


@cache
def validator() -> Callable[[dict[str, Any]], Any]:
    """The schema compiled to Python once (fastjsonschema; jsonschema takes about a second for
    a whole course's results.json). The schema declares draft 2020-12 but uses only keywords
    that mean the same in draft 7, which fastjsonschema compiles; ``tests/reports`` checks that
    both libraries agree on it, and that the schema itself is valid. jsonschema is imported only
    to raise an error (0.15 s to import alone, about 2 s beside nbgrader's dependencies)."""
    return fastjsonschema.compile(
        {**schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    )


def validate(data: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``data`` breaks the schema."""
    try:
        validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        import jsonschema

        raise jsonschema.ValidationError(exc.message, path=exc.path) from None


def _test(result: CheckResult) -> dict[str, Any]:
    hidden = result.visibility != "visible"
    status = "passed" if result.passed else "failed"
    if hidden:
        output = tr("hidden check: {status}").format(status=outcome(status))
    elif result.passed:
        output = message(result.message) or outcome("passed")
    else:
        output = message(result.message) or outcome(result.outcome.value)
    extra: dict[str, Any] = {"kind": result.kind, "outcome": result.outcome.value}
    if result.misconception and not hidden:
        extra["misconception"] = result.misconception
    if result.warnings and not hidden:
        extra["warnings"] = list(result.warnings)
    if result.grader_fault:
        extra["grader_error"] = True
    return {
        "name": result.check_id,
        "score": result.points,
        "max_score": result.max_points if result.counts else 0.0,
        "status": status,
        "output": output,
        "visibility": result.visibility,
        "tags": [result.topic, result.kind],
        "extra_data": extra,
    }


def results_json(report: SubmissionReport) -> dict[str, Any]:
    topics = {t: {"score": s, "max_score": m} for t, (s, m) in report.topic_scores().items()}
    summary = ", ".join(f"{t} {s:g}/{m:g}" for t, (s, m) in report.topic_scores().items())
    tests = [_test(r) for r in report.results]
    if report.grader_error:
        tests.append(
            {
                "name": "grader/internal: autograder failed",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": "The autograder failed on this submission (not your fault); your "
                "instructor has the details and will regrade.",
                "visibility": "visible",
                "extra_data": {"kind": "hygiene", "outcome": "crashed"},
            }
        )
    data = {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": round(report.elapsed, 3),
        "output": (
            f"Your submission could not be read: {report.refused}\n" if report.refused else ""
        )
        + f"Score {report.score:g}/{report.max_score:g} ({summary})",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "student_id": report.student_id,
            "topics": topics,
            "isolation_level": report.isolation,
            "grader_version": __version__,
            "seed_id": report.seed_id,
            "status": report.status,
            **report.extra,
        },
    }
    validate(data)
    return data


def dumps(report: SubmissionReport) -> str:
    return json.dumps(results_json(report), indent=2, sort_keys=False) + "\n"

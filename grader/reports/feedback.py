"""feedback.md: a student-readable account of one submission, topic by topic."""

from __future__ import annotations

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, SubmissionReport

ICON = {True: "PASS", False: "FAIL"}


def _entry(r: CheckResult) -> str:
    status = ICON[r.passed] if r.counts else "NOT RUN"
    head = f"- **{status}** `{r.check_id}` ({r.points:g}/{r.max_points:g}, {r.kind})"
    if r.visibility != "visible":
        return head + " (hidden check)"
    if not r.counts:
        return f"{head}: {r.message}"
    if r.passed and not r.warnings:
        return head
    body = r.message or r.outcome.value
    if not r.passed:
        body = f"outcome: {r.outcome.value}\n{body}"
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"{head}\n\n```text\n{indented}\n```"


def render(report: SubmissionReport) -> str:
    lines = [
        f"# Feedback for {report.student_id}",
        "",
        f"**Score: {report.score:g} / {report.max_score:g}**",
        "",
        "| topic | score | max |",
        "|---|---:|---:|",
    ]
    for topic, (score, max_score) in report.topic_scores().items():
        lines.append(f"| {topic} | {score:g} | {max_score:g} |")
    if report.grader_error:
        lines += ["", "> The autograder failed on this submission; your instructor will regrade."]
    if report.refused:
        lines += ["", f"> Your submission could not be read: {report.refused}"]
    for topic in report.topics:
        results = [r for r in report.results if r.topic == topic]
        lines += ["", f"## {topic}", ""]
        counted = [r for r in results if r.counts]
        missing = {r.message for r in counted if r.outcome is Outcome.NOT_SUBMITTED}
        if counted and len(missing) == 1 and all(not r.passed for r in counted):
            if all(r.outcome is Outcome.NOT_SUBMITTED for r in counted):  # the module is absent
                lines.append(f"{missing.pop()}: 0 of {len(counted)} checks.")
                continue
        passed = sum(r.passed for r in results)
        not_run = len(results) - len(counted)
        lines.append(
            f"{passed} of {len(counted)} checks passed"
            + (f" ({not_run} not run on this machine)." if not_run else ".")
        )
        failed = [r for r in counted if not r.passed]
        mistakes = sorted(
            {r.misconception for r in failed if r.misconception and r.visibility == "visible"}
        )
        if mistakes:
            lines.append("Known mistakes spotted: " + "; ".join(mistakes) + ".")
        lines.append("")
        # failures first (they are what to work on), then the rest
        for r in sorted(results, key=lambda r: (r.passed, not r.counts)):
            lines.append(_entry(r))
    return "\n".join(lines) + "\n"

"""feedback.md: a student-readable account of one submission, topic by topic."""

from __future__ import annotations

from grader.checks.base import Outcome
from grader.i18n import message, outcome, tr
from grader.pipeline import CheckResult, SubmissionReport


def _entry(r: CheckResult) -> str:
    status = (tr("PASS") if r.passed else tr("FAIL")) if r.counts else tr("NOT RUN")
    head = f"- **{status}** `{r.check_id}` ({r.points:g}/{r.max_points:g}, {r.kind})"
    if r.visibility != "visible":
        return head + " " + tr("(hidden check)")
    if not r.counts:
        return f"{head}: {message(r.message)}"
    if r.passed and not r.warnings:
        return head
    body = message(r.message) or outcome(r.outcome.value)
    if not r.passed:
        body = tr("outcome: {outcome}").format(outcome=outcome(r.outcome.value)) + f"\n{body}"
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"{head}\n\n```text\n{indented}\n```"


def render(report: SubmissionReport) -> str:
    lines = [
        "# " + tr("Feedback for {student}").format(student=report.student_id),
        "",
        "**"
        + tr("Score: {score} / {max_score}").format(
            score=f"{report.score:g}", max_score=f"{report.max_score:g}"
        )
        + "**",
        "",
        "| {} | {} | {} |".format(tr("topic"), tr("score"), tr("max")),
        "|---|---:|---:|",
    ]
    for topic, (score, max_score) in report.topic_scores().items():
        lines.append(f"| {topic} | {score:g} | {max_score:g} |")
    if report.grader_error:
        lines += [
            "",
            "> " + tr("The autograder failed on this submission; your instructor will regrade."),
        ]
    if report.refused:
        lines += [
            "",
            "> " + tr("Your submission could not be read: {reason}").format(reason=report.refused),
        ]
    for topic in report.topics:
        results = [r for r in report.results if r.topic == topic]
        lines += ["", f"## {topic}", ""]
        counted = [r for r in results if r.counts]
        missing = {r.message for r in counted if r.outcome is Outcome.NOT_SUBMITTED}
        if counted and len(missing) == 1 and all(not r.passed for r in counted):
            if all(r.outcome is Outcome.NOT_SUBMITTED for r in counted):  # the module is absent
                lines.append(
                    tr("{reason}: 0 of {count} checks.").format(
                        reason=message(missing.pop()), count=len(counted)
                    )
                )
                continue
        passed = sum(r.passed for r in results)
        not_run = len(results) - len(counted)
        said = tr("{passed} of {count} checks passed").format(passed=passed, count=len(counted))
        if not_run:
            said += " " + tr("({count} not run on this machine).").format(count=not_run)
        lines.append(said if not_run else said + ".")
        failed = [r for r in counted if not r.passed]
        mistakes = sorted(
            {r.misconception for r in failed if r.misconception and r.visibility == "visible"}
        )
        if mistakes:
            names = "; ".join(tr(m) for m in mistakes)
            lines.append(tr("Known mistakes spotted: {names}.").format(names=names))
        lines.append("")
        # failures first (they are what to work on), then the rest
        for r in sorted(results, key=lambda r: (r.passed, not r.counts)):
            lines.append(_entry(r))
    return "\n".join(lines) + "\n"

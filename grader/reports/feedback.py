"""feedback.md: a student-readable account of one submission, topic by topic."""

from __future__ import annotations

from grader.pipeline import CheckResult, SubmissionReport

ICON = {True: "PASS", False: "FAIL"}


def _entry(r: CheckResult) -> str:
    status = ICON[r.passed] if r.counts else "NOT RUN"
    head = f"- **{status}** `{r.check_id}` ({r.points:g}/{r.max_points:g}, {r.kind})"
    if r.visibility != "visible":
        return head + " (hidden check)"
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
    for topic in report.topics:
        results = [r for r in report.results if r.topic == topic]
        failed = [r for r in results if not r.passed and r.counts]
        lines += [
            "",
            f"## {topic}",
            "",
            f"{len(results) - len(failed)} of {len(results)} checks passed.",
        ]
        mistakes = sorted(
            {r.misconception for r in failed if r.misconception and r.visibility == "visible"}
        )
        if mistakes:
            lines.append("Known mistakes spotted: " + "; ".join(mistakes) + ".")
        lines.append("")
        # failures first (they are what to work on), then the rest
        for r in sorted(results, key=lambda r: r.passed):
            lines.append(_entry(r))
    return "\n".join(lines) + "\n"

"""``grader report OUT``: HTML pages with plots for a graded batch (an output folder of
``grader grade``).

- ``OUT/report.html``, the class view of ``grader stats`` (``grader.reports.stats``, whose
  numbers it reuses): the score histogram, per-topic score distributions, per-check pass rates
  (the checks failed most first), the named mistakes by frequency, the submissions whose
  grading failed, and every student with a link to their page.
- ``OUT/<student>/feedback.html``: feedback.md rendered (the text comes from
  ``grader.reports.feedback``, from the student's journal, so it is feedback.md's content in
  the chosen language), with a chart of the points per topic.

Every page is one self-contained file: inline CSS, charts as embedded PNG (``charts``), no
script, no link outside the folder, so it opens offline and can be mailed. Student text is
hostile input (exception messages, printed output, file names): everything inserted is made
safe (``safe_text.clean``) and HTML-escaped; feedback.md is rendered by a Markdown parser with
raw HTML, links and images disabled, so a message can change formatting at worst.
"""

from __future__ import annotations

import html
import statistics
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from grader.i18n import language, tr
from grader.reports import charts, safe_text, stats
from grader.reports.files import write_atomic

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

REPORT = "report.html"
FEEDBACK = "feedback.html"
TOP_CHART = 25  # checks shown in the pass-rate chart (the table lists every failing one)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
  sans-serif; color: #1f2328; background: #fff; margin: 0 auto; max-width: 1100px;
  padding: 24px 32px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: 8px 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
blockquote { margin: 8px 0; padding: 6px 12px; border-left: 4px solid #c0504d;
  background: #fff5f5; }
figure { margin: 12px 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: 13px; }
.muted { color: #57606a; }
ul { padding-left: 22px; }
"""


def _e(text: object) -> str:
    """``text`` safe in HTML text and attribute values: unsafe characters written as escapes
    (``safe_text.clean``), then ``& < > " '`` escaped."""
    return html.escape(safe_text.clean(str(text)), quote=True)


def page(title: str, body: str, lang: str = "en") -> str:
    """A complete HTML document: ``title`` (plain text, escaped here) and ``body`` (HTML)."""
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # nothing may load from anywhere: images are data URIs, the style is inline
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def _figure(uri: str, caption: str) -> str:
    said = _e(caption)
    return f'<figure><img src="{uri}" alt="{said}"><figcaption>{said}</figcaption></figure>'


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A table; ``header`` and ``rows`` hold HTML already escaped; columns in ``numeric`` are
    right-aligned."""

    def cells(tag: str, values: list[str]) -> str:
        return "".join(
            f'<{tag} class="num">{v}</{tag}>' if i in numeric else f"<{tag}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"


# -- the student's page ------------------------------------------------------------------------


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with tables; raw HTML is escaped, and links, autolinks and images are off:
    a student's message can add emphasis at worst, never a tag, a link or a request."""
    from markdown_it import MarkdownIt  # rich's own dependency

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return md.disable(["link", "image", "autolink", "html_inline", "html_block"])


def feedback_body(markdown: str, chart: str = "") -> str:
    """feedback.md's ``markdown`` as HTML, with ``chart`` (HTML) after the score table (at the
    top when there is none)."""
    body = _markdown().render(safe_text.clean(markdown))
    end = body.find("</table>")
    if end < 0:
        return chart + body
    end += len("</table>")
    return body[:end] + chart + body[end:]


def student_page(student: str, markdown: str, scores: dict[str, tuple[float, float]]) -> str:
    """``OUT/<student>/feedback.html``: feedback.md's text (``markdown``) and a chart of
    ``scores`` (topic -> (score, max score))."""
    chart = ""
    if scores:
        caption = tr("Points per topic (the share of each topic's points earned)")
        chart = _figure(charts.topic_scores(scores), caption)
    title = tr("Feedback for {student}").format(student=student)
    return page(title, feedback_body(markdown, chart), language())


def _feedback_text(folder: Path) -> str | None:
    """The student's feedback.md text: rendered again from the journal (in the chosen
    language), else the file on disk; None when there is neither."""
    from grader import journal
    from grader.reports import feedback

    entry = journal.read(folder)
    if entry is not None:
        return feedback.render(safe_text.report(entry.report))
    try:
        return (folder / "feedback.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# -- the class page ----------------------------------------------------------------------------


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _summary(view: stats.ClassStats) -> str:
    percents = [g.percent for g in view.graded]
    said = tr("{n} submissions graded").format(n=len(percents))
    if percents:
        said += tr(": mean {mean}%, median {median}%, lowest {lowest}%, highest {highest}%").format(
            mean=f"{statistics.fmean(percents):.0f}",
            median=f"{statistics.median(percents):.0f}",
            lowest=f"{min(percents):.0f}",
            highest=f"{max(percents):.0f}",
        )
    if view.unreadable:
        said += tr("; {n} results.json unreadable").format(n=len(view.unreadable))
    return f"<p>{_e(said)}.</p>"


def _topics(view: stats.ClassStats) -> str:
    percents: dict[str, list[float]] = {}
    for g in view.graded:
        for topic, (score, max_score) in g.topics.items():
            if max_score:
                percents.setdefault(topic, []).append(100 * score / max_score)
    parts = []
    if percents:
        caption = tr("Each student's percentage of the topic's points (box: quartiles and median)")
        parts.append(_figure(charts.distributions(percents), caption))
    rows = [
        [
            _e(topic),
            f"{score:.1f}/{max_score:g}",
            _percent(score, max_score),
            f"{full}/{len(view.graded)}",
        ]
        for topic, score, max_score, full in view.topic_means()
    ]
    header = [tr("topic"), tr("mean"), tr("mean %"), tr("full marks")]
    parts.append(_table(header, rows, {1, 2, 3}))
    return "".join(parts)


def _checks(view: stats.ClassStats) -> str:
    rates = view.check_rates()
    failing = [r for r in rates if r.passed < r.graded]
    if not failing:
        said = tr("Every one of the {n} checks passed for every student.").format(n=len(rates))
        return f"<p>{_e(said)}</p>"
    said = tr("{failing} of {n} checks failed for at least one student; lowest pass rate first.")
    parts = [f"<p>{_e(said.format(failing=len(failing), n=len(rates)))}</p>"]
    shown = failing[:TOP_CHART]
    caption = tr("Pass rate of the {n} checks failed most").format(n=len(shown))
    parts.append(_figure(charts.pass_rates([(r.name, r.rate) for r in shown]), caption))
    rows = [
        [
            f"<code>{_e(r.name)}</code>",
            f"{r.passed}/{r.graded}",
            _percent(r.passed, r.graded),
            _e(", ".join(f"{outcome} {n}" for outcome, n in r.failures.most_common())),
        ]
        for r in failing
    ]
    parts.append(_table([tr("check"), tr("passed"), tr("rate"), tr("failures")], rows, {1, 2}))
    return "".join(parts)


def _mistakes(view: stats.ClassStats) -> str:
    mistakes = view.mistakes()
    if not mistakes:
        return f"<p>{_e(tr('No named mistake was made.'))}</p>"
    rows = [
        [
            _e(tr(m.name)),
            f"<code>{_e(m.where)}</code>",
            f"{len(m.students)}/{len(view.graded)}",
            _e(", ".join(m.students)),
        ]
        for m in mistakes
    ]
    return _table([tr("mistake"), tr("function"), tr("students"), tr("who")], rows, {2})


def _failed(view: stats.ClassStats) -> str:
    failed = view.failed()
    if not failed:
        return f"<p>{_e(tr('None: every submission was graded.'))}</p>"
    items = "".join(f"<li><strong>{_e(s)}</strong>: {_e(why)}</li>" for s, why in failed)
    return f"<ul>{items}</ul>"


def _students(view: stats.ClassStats, pages: set[str]) -> str:
    rows = []
    for g in view.graded:
        name = _e(g.student)
        if g.student in pages:  # a relative link inside OUT: the folder name, URL-quoted
            name = f'<a href="{_e(quote(g.student))}/{FEEDBACK}">{name}</a>'
        rows.append([name, f"{g.score:g}/{g.max_score:g}", f"{g.percent:.0f}%", _e(g.status)])
    return _table([tr("student"), tr("score"), "%", tr("status")], rows, {1, 2})


def class_page(view: stats.ClassStats, pages: set[str], title: str) -> str:
    """``OUT/report.html``: the class view; ``pages`` are the students with a feedback.html."""
    sections = [
        ("distribution", tr("Score distribution"), _summary(view)),
        ("topics", tr("Topics"), _topics(view)),
        ("checks", tr("Checks failed most"), _checks(view)),
        ("mistakes", tr("Named mistakes"), _mistakes(view)),
        ("failed", tr("Grading failed"), _failed(view)),
        ("students", tr("Students"), _students(view, pages)),
    ]
    if view.graded:  # the histogram opens the first section
        caption = tr("Students per score (percentage of the points, in steps of 10)")
        figure = _figure(charts.histogram(view.histogram()), caption)
        sections[0] = (*sections[0][:2], sections[0][2] + figure)
    body = [f"<h1>{_e(title)}</h1>"]
    body += [f'<section id="{key}"><h2>{_e(h)}</h2>{html_}</section>' for key, h, html_ in sections]
    return page(title, "\n".join(body), language())


# -- the command -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """What ``write`` wrote: the class page, the student pages, the students without one (no
    journal and no feedback.md), and how long it took."""

    report: Path
    feedback: tuple[Path, ...]
    without: tuple[str, ...]
    seconds: float


def _folder(out: Path, student: str) -> Path | None:
    """``OUT/<student>`` when it is a folder directly inside ``out`` (an id read from a
    results.json never leads elsewhere)."""
    folder = out / student
    inside = folder.resolve().parent == out.resolve() and student not in ("", ".", "..")
    return folder if inside and folder.is_dir() else None


def write(out: Path) -> Written:
    """Write ``OUT/report.html`` and each student's ``OUT/<student>/feedback.html``. Raises
    ``stats.StatsError`` when ``out`` is not an output folder of ``grader grade`` and
    ``charts.ChartsUnavailable`` without matplotlib (before anything is written)."""
    start = time.perf_counter()
    view = stats.load(out)
    charts.require()
    written, without = [], []
    for g in view.graded:
        folder = _folder(out, g.student)
        text = _feedback_text(folder) if folder else None
        if folder is None or text is None:
            without.append(g.student)
            continue
        path = folder / FEEDBACK
        write_atomic(path, student_page(g.student, text, g.topics))
        written.append(path)
    pages = {p.parent.name for p in written}
    report = out / REPORT
    title = tr("Class report: {name}").format(name=out.resolve().name)
    write_atomic(report, class_page(view, pages, title))
    return Written(report, tuple(written), tuple(without), time.perf_counter() - start)

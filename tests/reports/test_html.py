"""`grader report OUT` on a small graded batch (alice, bob and mallory, whose messages carry
HTML, Markdown links and control characters): the pages are self-contained and hold no tag or
attribute from student text; feedback.html says what feedback.md says; report.html's numbers
are computed here again from the results.json files; and headless Chromium renders both pages
to screenshots that are not blank, with no console message (the detectors are shown to fire
on a page that is blank and throws)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import i18n
from grader.batch import grade_batch
from grader.reports import charts, html, stats

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "submissions"
TOPICS = ("losses", "dropout")
PAYLOAD = (
    "<script>alert(1)</script> </code></pre><img src=x onerror=alert(2)> "
    "[click](javascript:alert(3)) <a href='http://evil.example/'>x</a> \x1b[2J bell\x07"
)
INLINE = "<img src=x onerror=alert(4)> [link](http://evil.example/x) <b>bold</b> "
MALLORY = f"""
import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    raise ValueError({PAYLOAD!r})


def dropout_forward(x, dropout_param):
    raise RuntimeError({PAYLOAD!r})
"""
# what a page may contain: the tags our own markup and the Markdown renderer write
TAGS = {
    *("html", "head", "meta", "title", "style", "body", "section", "h1", "h2", "h3", "p"),
    *("table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "em", "code", "pre"),
    *("blockquote", "figure", "figcaption", "img", "a", "br", "hr"),
}
BROWSER = next(
    (b for b in ("chromium-headless-shell", "chromium", "google-chrome") if shutil.which(b)), None
)


class Page(HTMLParser):
    """The tags, attributes and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def out(fast_course, tmp_path_factory) -> Path:
    batch = tmp_path_factory.mktemp("batch")
    for student in ("alice", "bob"):
        shutil.copytree(EXAMPLES / student, batch / student)
    (batch / "mallory").mkdir()
    (batch / "mallory" / "losses.py").write_text(MALLORY)
    (batch / "mallory" / "dropout.py").write_text(MALLORY)
    # refused: the reason quotes the member's name, outside any code block of feedback.md
    with zipfile.ZipFile(batch / "oscar.zip", "w") as archive:
        archive.writestr(INLINE + "a" * 300 + ".py", "x = 1\n")
    out = tmp_path_factory.mktemp("graded")
    grade_batch(fast_course, [batch], out, TOPICS, jobs=2)
    return out


@pytest.fixture(scope="module")
def written(out) -> html.Written:
    return html.write(out)


@pytest.fixture(scope="module")
def results(out) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}


def test_the_payload_reaches_the_reports(out):
    # else the escaping tests below would prove nothing
    assert "<script>alert(1)</script>" in (out / "mallory" / "feedback.md").read_text()
    assert "\n> " in (oscar := (out / "oscar" / "feedback.md").read_text()) and INLINE in oscar


def test_every_page_is_self_contained_and_student_text_adds_no_tag(out, written, results):
    assert written.report == out / "report.html"
    students = ["alice", "bob", "mallory", "oscar"]
    assert sorted(p.parent.name for p in written.feedback) == sorted(results) == students
    for path in (written.report, *written.feedback):
        text = path.read_text(encoding="utf-8")
        page = Page(text)
        assert {tag for tag, _ in page.tags} <= TAGS, path
        assert "<script" not in text.lower() and "javascript:" not in "".join(
            str(a) for _, a in page.tags
        )
        for tag, attrs in page.tags:
            assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
            if tag == "img":
                assert attrs["src"].startswith("data:image/png;base64,"), path
            if tag == "a":  # only the class page links, to a student's page beside it
                assert path == written.report
                assert re.fullmatch(r"[a-z]+/feedback\.html", attrs["href"]), attrs
        for _, attrs in page.tags:  # nothing loads or leads outside the folder
            assert not [v for v in attrs.values() if v and re.match(r"\w+://", v)], attrs
        assert "<link" not in text and "url(" not in text and "@import" not in text, path
        assert re.search("[\x00-\x08\x0b-\x1f\x7f]", text) is None, path
    mallory = Page((out / "mallory" / "feedback.html").read_text()).words()
    assert "<script>alert(1)</script>" in mallory  # shown to the student as text
    assert "\\x1b[2J" in mallory
    assert INLINE.strip() in Page((out / "oscar" / "feedback.html").read_text()).words()


def test_feedback_html_says_what_feedback_md_says(out, written, results):
    for student, data in results.items():
        page = Page((out / student / "feedback.html").read_text())
        words = page.words()
        md = (out / student / "feedback.md").read_text()
        ids = re.findall(r"^- \*\*.*?\*\* `(.*?)`", md, re.M)
        assert ids or student == "oscar", student  # refused: no check was run
        for check in ids:
            assert check in words, (student, check)
        for topic in data["extra_data"]["topics"]:
            assert ("h2", {}) in page.tags and f"{topic} " in words
        in_code = [ln.strip() for ln in re.findall(r"```text\n(.*?)```", md, re.S)]
        for line in "\n".join(in_code).splitlines():
            assert " ".join(line.split()) in words, (student, line)
        assert [t for t, _ in page.tags].count("li") == len(ids)
        assert [t for t, _ in page.tags].count("img") == 1  # the per-topic chart


def test_report_html_numbers_match_the_results(out, written, results):
    page = Page(written.report.read_text())
    words = page.words()
    assert f"{len(results)} submissions graded" in words
    counted = {}
    for data in results.values():
        for t in data["tests"]:
            if t["max_score"]:
                counted.setdefault(t["name"], []).append(t["status"] == "passed")
    failing = [name for name, passed in counted.items() if not all(passed)]
    assert f"{len(failing)} of {len(counted)} checks failed for at least one student" in words
    for name in failing:
        assert name in words
    for student, data in results.items():
        assert f"{student} {data['score']:g}/{data['max_score']:g}" in words
        mistakes = {t["extra_data"].get("misconception") for t in data["tests"]} - {None}
        for mistake in mistakes:
            assert mistake in words
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == 3  # histogram, topic distributions, pass rates


def test_the_class_page_escapes_ids_and_reasons():
    # ids from grader grade are safe names, but a results.json is a file anyone can edit
    hostile = "<img src=x onerror=alert(6)>\x1b[2J"
    tests = (
        {
            "name": "dropout/dropout_forward: x",
            "score": 0.0,
            "max_score": 1.0,
            "status": "failed",
            "extra_data": {"outcome": hostile, "misconception": hostile},
        },
    )
    graded = stats.Graded(hostile, 0.0, 1.0, {"dropout": (0.0, 1.0)}, tests, hostile)
    view = stats.ClassStats((graded,), ((hostile, hostile),))
    page = Page(html.class_page(view, {hostile}, hostile))
    assert {tag for tag, _ in page.tags} <= TAGS
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert [a["src"][:5] for t, a in page.tags if t == "img"] == ["data:"] * 3
    assert page.words().count("<img src=x onerror=alert(6)>\\x1b[2J") >= 5


def test_grader_report_command(out, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "grader", "report", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "4 feedback.html" in " ".join(done.stdout.split())  # wrapped where the path is long
    refused = subprocess.run(
        [sys.executable, "-m", "grader", "report", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2 and "(an output folder of grader grade)" in said
    assert not (tmp_path / "report.html").exists()


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises
    with pytest.raises(charts.ChartsUnavailable, match="pip install matplotlib"):
        charts.require()


# -- headless Chromium ------------------------------------------------------------------------


def _render(page: Path, shot: Path) -> list[str]:
    """Screenshot ``page`` into ``shot``; return the console messages the browser logged."""
    assert BROWSER is not None
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root otherwise
    done = subprocess.run(
        [BROWSER, *sandbox, "--headless", "--disable-gpu", "--hide-scrollbars"]
        + ["--window-size=1200,2000", "--enable-logging=stderr", "--v=0"]
        + [f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    return [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def _ink(shot: Path) -> tuple[int, float]:
    """(distinct colours, share of pixels that are not white) of a screenshot."""
    from matplotlib import image

    pixels = image.imread(shot)[..., :3]  # floats in [0, 1]
    colours = len({tuple(p) for p in pixels[::7, ::7].reshape(-1, 3).tolist()})
    return colours, float((pixels.min(axis=-1) < 0.97).mean())


needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless Chromium (apt-get install chromium-headless-shell; .ci/run does it)",
)


@needs_browser
def test_the_detectors_fire_on_a_blank_page_that_throws(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>missing_function()</script></body></html>")
    console = _render(bad, tmp_path / "bad.png")
    assert any("Uncaught ReferenceError" in line for line in console), console
    colours, ink = _ink(tmp_path / "bad.png")
    assert colours == 1 and ink == 0.0


@needs_browser
@pytest.mark.parametrize("page", ["report.html", "mallory/feedback.html", "oscar/feedback.html"])
def test_chromium_renders_the_page_with_no_console_message(out, written, page, tmp_path):
    shot = tmp_path / "shot.png"
    console = _render(out / page, shot)
    assert console == []
    colours, ink = _ink(shot)
    assert colours > 20 and ink > 0.05, (colours, ink)


def test_the_class_page_speaks_the_chosen_language(out, tmp_path, monkeypatch):
    copy = tmp_path / "graded"
    shutil.copytree(out, copy)
    monkeypatch.setenv(i18n.ENV, "zh")
    page = html.write(copy).report.read_text()
    assert '<html lang="zh">' in page
    for english, chinese in [
        ("Score distribution", "分数分布"),
        ("Named mistakes", "已命名的常见错误"),
        ("Students", "学生"),
        ("Class report: ", "班级报告："),
    ]:
        assert f">{english}" not in page and chinese in page
    monkeypatch.setenv(i18n.ENV, "en")
    english_page = html.write(copy).report.read_text()
    assert '<html lang="en">' in english_page and ">Score distribution<" in english_page

"""Text is made safe where it lands: no control character (but newline and tab) and no lone
surrogate reaches a report, a log, the gradebook or the terminal, whoever wrote it (a student's
message, printed output, a zip's name, a member's name); gradebook cells never start a formula.
The last test feeds such text through a real ``grader grade`` run."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from grader.checks.base import Outcome
from grader.pipeline import CheckResult, SubmissionReport
from grader.reports import gradebook, safe_text

REPO = Path(__file__).resolve().parents[2]
ALICE = REPO / "examples" / "submissions" / "alice" / "dropout.py"
# what must never be written raw: C0 but tab/newline, DEL, C1, bidi controls, lone surrogates
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
HOSTILE = "red \x1b[31m\x1b[2J bell\x07 nul\x00 cr\r c1\x9b bidi\u202e lone\udc80 end"


def test_clean_escapes_every_unsafe_character_and_keeps_newlines_and_tabs():
    cleaned = safe_text.clean(HOSTILE + "\nline two\tcell")
    assert RAW.search(cleaned) is None
    assert cleaned.endswith("end\nline two\tcell")
    for escape in ("\\x1b[31m", "\\x07", "\\x00", "\\r", "\\x9b", "\\u202e", "\\udc80"):
        assert escape in cleaned, escape
    assert safe_text.clean(cleaned) == cleaned  # idempotent
    cleaned.encode("utf-8")  # a lone surrogate could not be encoded
    assert safe_text.clean("plain text, ünïcödé ✓") == "plain text, ünïcödé ✓"


def test_one_line_text_and_names_escape_newlines_and_are_bounded():
    assert safe_text.line("a\nb\tc") == "a\\nb\\tc"
    assert safe_text.name("x" * 300 + ".zip", 50) == "x" * 47 + "..."


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_would_start_a_formula_is_quoted(start):
    text = f'{start}HYPERLINK("http://evil","x")'
    assert safe_text.cell(text).startswith("'")
    assert safe_text.cell("alice") == "alice" and safe_text.cell("/path/a=b") == "/path/a=b"


def _hostile_report() -> SubmissionReport:
    result = CheckResult(
        "dropout/dropout_forward: x",
        "dropout",
        "dropout_forward",
        "reference",
        Outcome.EXCEPTION,
        0.0,
        1.0,
        "visible",
        message=HOSTILE,
        staff=HOSTILE,
        warnings=(HOSTILE,),
        misconception=HOSTILE,
    )
    return SubmissionReport(
        "=cmd", (result,), "process", "seed", 0.0, ("dropout",), student_output=HOSTILE
    )


def test_the_gradebook_quotes_formulas_and_escapes_every_cell():
    report = _hostile_report()
    text = gradebook.render([report], ("dropout",), {"=cmd": "-\x1b[2J.zip"})
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["student_id"] == "'=cmd"
    assert row["source"] == "'-\\x1b[2J.zip"
    assert RAW.search(text) is None


def test_a_report_is_cleaned_in_every_text_field():
    cleaned = safe_text.report(replace(_hostile_report(), extra={"trees": [HOSTILE]}))
    (r,) = cleaned.results
    for text in (r.message, r.staff, r.misconception, *r.warnings, cleaned.student_output):
        assert RAW.search(text) is None and "\\udc80" in text
    assert RAW.search(json.dumps(cleaned.extra, ensure_ascii=False)) is None


HOSTILE_MODULE = """
import sys

def dropout_forward(x, dropout_param):
    print("\\x1b[31mprinted red\\x1b[0m \\u202eevil \\x9b")
    raise ValueError("message \\udc80 \\x1b[2J cleared")


def dropout_backward(dout, cache):
    sys.stderr.write("\\x1b]0;title\\x07")
    raise RuntimeError("bell\\x07\\r" + "\\udcff")
"""


def test_hostile_text_through_a_real_grade_run(tmp_path):
    """Messages with escape codes and lone surrogates, printed control codes, a zip named with
    an escape code and a member named with one: every file of the run and the terminal are
    free of raw control characters, and the text is still there, escaped."""
    batch = tmp_path / "batch"
    (batch / "mallory").mkdir(parents=True)
    (batch / "mallory" / "dropout.py").write_text(HOSTILE_MODULE)
    (batch / "alice").mkdir()
    (batch / "alice" / "dropout.py").write_text(ALICE.read_text())
    with zipfile.ZipFile(batch / "\x1b[31mred.zip", "w") as archive:
        archive.writestr("dropout.py", "x = 1\n")
    with zipfile.ZipFile(batch / "oscar.zip", "w") as archive:  # refused: a member's name
        archive.writestr("\x1b[2J" + "a" * 300 + ".py", "x = 1\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out)]
        + ["--topic", "dropout"],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    terminal = (done.stdout + done.stderr).decode("utf-8", "surrogateescape")
    assert done.returncode == 0, terminal
    assert RAW.search(terminal) is None, repr(terminal[:2000])
    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        text = path.read_bytes().decode("utf-8")  # strict: no surrogate was written
        assert RAW.search(text) is None, path
        assert "\\u001b" not in text and "\\u009b" not in text, path  # nor JSON-escaped raw
    feedback = (out / "mallory" / "feedback.md").read_text()
    assert "message \\udc80 \\x1b[2J cleared" in feedback
    assert "\\x1b[31mprinted red" in (out / "mallory" / "staff.log").read_text()
    data = json.loads((out / "mallory" / "results.json").read_text())
    assert any("\\udc80" in t["output"] for t in data["tests"])
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["31mred"]["source"].endswith("\\x1b[31mred.zip")
    assert rows["oscar"]["status"] == "refused"
    refusal = (out / "oscar" / "feedback.md").read_text()
    assert "oscar.zip: '\\x1b[2Jaaa" in refusal and "path that is too long" in refusal
    alice = json.loads((out / "alice" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0

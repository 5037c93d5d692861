"""The batch's journal: what was graded from which inputs, so that a rerun resumes and merges.

Each graded submission gets ``OUT/<student>/journal.json``, written (atomically) after its
reports: the whole ``SubmissionReport`` as data and, per topic, the fingerprint of the inputs it
was graded from (the submission's bytes for that topic, the course config, the grader's own
code and version, the reference solution, the secret's fingerprint). A rerun regrades a topic
only when its fingerprint changed or the journal is missing (a run killed before the journal
was written regrades that student), merges the topics graded now into the stored report, and
rebuilds every report file and ``gradebook.csv`` from the journals in the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import grader
from grader.checks.base import Outcome
from grader.config import Course
from grader.judge.seeds import secret_id
from grader.layouts.kit import Submission
from grader.pipeline import CheckResult, SubmissionReport
from grader.reports.files import write_atomic

FORMAT = 1
NAME = "journal.json"


@cache
def _grader_code_hash() -> str:
    """A hash of the grader package's source: a changed check regrades even at one version."""
    digest = hashlib.sha256(grader.__version__.encode())
    root = Path(grader.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprints(course: Course, sub: Submission, topics: tuple[str, ...]) -> dict[str, str]:
    """Per topic, a hash of everything its grade depends on."""
    common = {
        "config": course.config.model_dump_json(),
        "grader": _grader_code_hash(),
        "secret": secret_id(course.secret),
    }
    found = {}
    for topic in topics:
        module, reference = sub.modules.get(topic), course.solutions_dir / f"{topic}.py"
        inputs = {
            **common,
            "topic": topic,
            "module": _file_hash(module) if module else None,
            "problem": sub.refused or sub.problems.get(topic),
            "reference": _file_hash(reference) if reference.is_file() else None,
        }
        found[topic] = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return found


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _report_data(report: SubmissionReport) -> dict[str, Any]:
    """The report as JSON data: the same as ``dataclasses.asdict``, without its deep copy of
    every value (only encoded here; about a third of a batch's own time per submission)."""
    data = _fields(report)
    data["results"] = [{**_fields(r), "outcome": r.outcome.value} for r in report.results]
    return data


def _report(data: dict[str, Any]) -> SubmissionReport:
    results = tuple(
        CheckResult(**{**r, "outcome": Outcome(r["outcome"]), "warnings": tuple(r["warnings"])})
        for r in data["results"]
    )
    return SubmissionReport(
        **{
            **data,
            "results": results,
            "topics": tuple(data["topics"]),
            "worker_start_s": tuple(data["worker_start_s"]),
        }
    )


@dataclasses.dataclass(frozen=True)
class Entry:
    """One student's journal: the report, the fingerprint of each topic in it, and the file or
    folder the student id was read from (the id's mapping, shown in the gradebook)."""

    report: SubmissionReport
    fingerprints: dict[str, str]
    source: str = ""


def read(folder: Path) -> Entry | None:
    """The journal in ``folder`` (None when it is missing, unreadable or of another format)."""
    try:
        data = json.loads((folder / NAME).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        source = str(data.get("source", ""))
        return Entry(_report(data["report"]), dict(data["fingerprints"]), source)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(folder: Path, entry: Entry) -> None:
    data = {
        "format": FORMAT,
        "fingerprints": entry.fingerprints,
        "source": entry.source,
        "report": _report_data(entry.report),
    }
    # compact: json's C encoder (an indent takes its pure-Python one, several times slower)
    write_atomic(folder / NAME, json.dumps(data, separators=(",", ":")) + "\n")


def merge(old: SubmissionReport, new: SubmissionReport, order: tuple[str, ...]) -> SubmissionReport:
    """``old`` with the topics graded in ``new`` replaced; topics in course ``order``."""
    topics = tuple(t for t in order if t in old.topics or t in new.topics)
    extra = tuple(t for t in (*old.topics, *new.topics) if t not in topics)
    topics = tuple(dict.fromkeys(topics + extra))
    results = tuple(
        r for t in topics for r in (new.results if t in new.topics else old.results) if r.topic == t
    )
    kept_output = old.student_output if set(old.topics) - set(new.topics) else ""
    return dataclasses.replace(
        new,
        results=results,
        topics=topics,
        elapsed=old.elapsed + new.elapsed,
        student_output="\n".join(filter(None, (kept_output, new.student_output))),
    )


def entries(out: Path) -> list[Entry]:
    """Every student's journal in the output folder."""
    found = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (entry := read(folder)) is not None:
            found.append(entry)
    return found

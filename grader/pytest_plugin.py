"""Plain ``pytest`` runs the public checks: ``pytest assignments/`` (or one topic file).

Each ``<topic>.py`` inside the course's assignments folder (the folder next to an
``autograder.yml``) becomes a collector whose items are that topic's public checks. The first
item grades the whole topic through the same pipeline as ``grader check`` (one sandboxed worker),
and every item reports its own check's result, so the two commands always agree.
Input mutation under ``mutation: warn`` passes with an ``InputMutationWarning`` in pytest's
warnings summary, located at the student's function. Registered through the ``pytest11`` entry
point; inert for every other file.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from grader import registry

if TYPE_CHECKING:  # imported when first needed: the plugin loads in every pytest run
    from _pytest._code.code import TerminalRepr

    from grader import config
    from grader.pipeline import CheckResult

_COURSES: dict[Path, config.Course | None] = {}


def _course_for(path: Path) -> config.Course | None:
    from grader import config

    try:
        cfg_path = config.find_config(path.parent)
    except config.ConfigError:
        return None
    if cfg_path not in _COURSES:
        try:
            _COURSES[cfg_path] = config.load(cfg_path)
        except config.ConfigError:
            _COURSES[cfg_path] = None
    course = _COURSES[cfg_path]
    if course is None or path.parent.resolve() != course.assignments_dir.resolve():
        return None
    return course


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> TopicFile | None:
    if file_path.suffix != ".py" or file_path.stem not in registry.available():
        return None
    course = _course_for(file_path)
    if course is None or file_path.stem not in course.topics:
        return None
    return TopicFile.from_parent(parent, path=file_path, course=course)


class CheckFailure(Exception):
    """A public check that did not pass; its message is the kit's feedback."""


class InputMutationWarning(UserWarning):
    """A check passed, but the function modified its inputs (``mutation: warn``)."""


def _def_line(path: Path, function: str) -> int:
    """The line of ``def function`` (or ``class function``) in the student's file, else 1."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 1
    for number, line in enumerate(lines, 1):
        if re.match(rf"(def|class)\s+{re.escape(function)}\b", line):
            return number
    return 1


class TopicFile(pytest.File):
    def __init__(self, *, course: config.Course, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.course = course
        self._results: dict[str, CheckResult] | None = None

    def collect(self) -> Iterator[CheckItem]:
        for plan in self.course.plans[self.path.stem]:
            if plan.visibility == "visible":
                yield CheckItem.from_parent(self, name=plan.check_id.split("/", 1)[1])

    def results(self) -> dict[str, CheckResult]:
        if self._results is None:
            from grader.pipeline import grade_topic, sandbox_for

            topic = self.path.stem
            results, _ = grade_topic(
                self.course,
                topic,
                self.path.resolve(),
                None,
                sandbox_for(self.course),
                only_public=True,
            )
            self._results = {r.check_id: r for r in results}
        return self._results


class CheckItem(pytest.Item):
    def runtest(self) -> None:
        result = self.parent.results()[f"{self.parent.path.stem}/{self.name}"]
        for text in result.warnings:  # shown in pytest's warnings summary, at the function
            warnings.warn_explicit(
                text,
                InputMutationWarning,
                str(self.path),
                _def_line(self.path, result.function),
                module=self.path.stem,
            )
        if not result.counts:
            pytest.skip(result.message or "not run")
        if not result.passed:
            raise CheckFailure(f"[{result.outcome.value}] {result.message}")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, f"{self.parent.path.stem}/{self.name}"

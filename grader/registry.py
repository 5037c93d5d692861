"""The one source of topic, function and check names.

Topics are discovered: every module or package directly under ``grader.topics`` is one, with
the interface that ``grader.topics`` documents (checked here when a topic loads, so a topic that
breaks it fails with a message naming the module and the attribute). Check ids
(``"<topic>/<function>: <case>"``) come from the declarations; ``autograder.yml`` keys points by
them and lists the topics in teaching order.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import grader.topics
from grader.checks.base import HIDDEN, Check, Kind, Misconception
from grader.sim import SIMULATED

INTERFACE = ("TOPIC", "SUMMARY", "FUNCTIONS", "MISCONCEPTIONS", "WORKER_SETUP", "checks")
WORKER_SETUPS = ("", SIMULATED)


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the registry loaded it from ``grader/topics/<name>``."""

    name: str
    summary: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    misconceptions: tuple[Misconception, ...]
    worker_setup: str

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)


class TopicError(Exception):
    """A topic module that does not follow the interface of ``grader.topics``."""


class UnknownTopic(KeyError):
    """No module or package ``grader/topics/<name>``."""

    def __str__(self) -> str:
        name = self.args[0]
        close = difflib.get_close_matches(name, available(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return (
            f"no topic {name!r}{hint}: a topic is a module grader/topics/{name}.py or a "
            f"package grader/topics/{name}/; available: {', '.join(available())}"
        )


@cache
def available() -> tuple[str, ...]:
    """The names of the topic modules, sorted by name (found without importing them)."""
    found = pkgutil.iter_modules(grader.topics.__path__)
    return tuple(sorted(m.name for m in found if not m.name.startswith("_")))


def _problems(name: str, module: object) -> list[str]:
    """What is wrong with the interface of topic module ``module`` (empty: nothing)."""
    missing = [attr for attr in INTERFACE if not hasattr(module, attr)]
    if missing:
        return [f"missing {', '.join(missing)}"]
    found = []
    if sorted(getattr(module, "__all__", ())) != sorted(INTERFACE):
        found.append(f"__all__ must list exactly {', '.join(INTERFACE)}")
    if module.TOPIC != name:
        found.append(f"TOPIC is {module.TOPIC!r}, not the module's name {name!r}")
    if not isinstance(module.SUMMARY, str) or not module.SUMMARY.strip():
        found.append("SUMMARY must be a non-empty string")
    functions = module.FUNCTIONS
    if not (isinstance(functions, tuple) and functions and all(type(f) is str for f in functions)):
        found.append("FUNCTIONS must be a non-empty tuple of names")
    elif len(set(functions)) != len(functions):
        found.append("FUNCTIONS names a function twice")
    mistakes = module.MISCONCEPTIONS
    if not (isinstance(mistakes, tuple) and all(isinstance(m, Misconception) for m in mistakes)):
        found.append("MISCONCEPTIONS must be a tuple of Misconception")
    else:
        found += [
            f"misconception {m.name!r} is for {m.function!r}, which is not in FUNCTIONS"
            for m in mistakes
            if m.function not in functions
        ]
    if module.WORKER_SETUP not in WORKER_SETUPS:
        found.append(f"WORKER_SETUP must be one of {WORKER_SETUPS}")
    return found


def _check_problems(name: str, functions: Sequence[str], checks: Sequence[Check]) -> list[str]:
    found = []
    ids = [c.id for c in checks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        found.append(f"duplicate check ids {duplicates[:3]}")
    for c in checks:
        if c.topic != name or c.function not in functions or not isinstance(c.kind, Kind):
            found.append(f"check {c.id!r}: topic, function or kind is not this topic's")
        if c.case.startswith(HIDDEN.strip()):
            found.append(f"check {c.id!r}: declare hidden=True instead of naming the case hidden")
    untested = [f for f in functions if not any(c.function == f for c in checks)]
    if untested:
        found.append(f"no check for {', '.join(untested)}")
    return found


@cache
def topic(name: str) -> TopicSpec:
    """Load, check and describe topic ``name``; ``UnknownTopic`` when there is no such module."""
    if name not in available():
        raise UnknownTopic(name)
    module = importlib.import_module(f"grader.topics.{name}")
    problems = _problems(name, module)
    checks = tuple(module.checks()) if not problems else ()
    if not problems:
        problems = _check_problems(name, module.FUNCTIONS, checks)
    if problems:
        raise TopicError(
            f"grader/topics/{name} does not follow the topic interface (see grader/topics/"
            "__init__.py): " + "; ".join(problems)
        )
    return TopicSpec(
        name,
        module.SUMMARY,
        module.FUNCTIONS,
        checks,
        module.MISCONCEPTIONS,
        module.WORKER_SETUP,
    )


def topic_sources(name: str) -> list[Path]:
    """The source files of topic ``name`` (its module, or every module of its package)."""
    base = Path(__file__).resolve().parent / "topics"
    package = base / name
    return sorted(package.glob("*.py")) if package.is_dir() else [base / f"{name}.py"]


def topics(names: Sequence[str] | None = None) -> list[TopicSpec]:
    """The named topics (all available ones when ``names`` is None), in the order given."""
    return [topic(n) for n in (available() if names is None else names)]

"""The vocabulary of checks: kinds, outcomes, verdicts, the context a check runs in.

A check is a small object with ``topic``, ``function``, ``case``, ``hidden``, ``kind`` and
``run(ctx)``; its id ``"<topic>/<function>: <case>"`` (``"<topic>/<function>: hidden: <case>"``
for a hidden check) is derived. ``run`` returns a ``Verdict`` (or raises ``CheckFailed`` from
deep inside a helper, which the runner turns into that check's verdict). Student faults
(``StudentFault``) are turned into verdicts by ``grader.pipeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from grader.judge.student import StudentModule


class Kind(str, Enum):
    REFERENCE = "reference"
    GRADIENT = "gradient"
    PROPERTY = "property"
    HYGIENE = "hygiene"
    SPEED = "speed"
    GPU = "gpu"


class Outcome(str, Enum):
    PASSED = "passed"
    WRONG = "wrong"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUBMITTED = "not_submitted"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    MEMORY = "memory"
    BAD_OUTPUT = "bad_output"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str = ""
    staff: str = ""
    warnings: tuple[str, ...] = ()
    misconception: str | None = None
    grader_fault: bool = False  # the grader itself failed; not the student's doing

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


PASS = Verdict(Outcome.PASSED)


class CheckFailed(Exception):
    """Raised by check helpers to end a check with ``verdict``."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def fail(outcome: Outcome, message: str, **kw: Any) -> CheckFailed:
    return CheckFailed(Verdict(outcome, message, **kw))


@dataclass(frozen=True)
class Misconception:
    """A known mistake: a judge-side implementation of it, and what to tell the student.

    ``variant(ref, *inputs)`` gets the trusted reference module and the inputs of the check that
    failed (``args`` for direct checks, ``(dout, *forward_args)`` for backward checks; a
    ``RngSeed`` among them arrives as the generator the student got) and returns what the
    mistaken code would return.
    """

    function: str
    name: str
    hint: str
    variant: Callable[..., Any]
    compare: tuple[str, ...] | None = None  # only these outputs identify it (None: all)


@dataclass(frozen=True)
class SpeedSettings:
    """Speed checks: the student's function must reach ``min_ratio`` times the speed of the
    reference's (below 1: at most ``1/min_ratio`` times slower), both timed the same way in the
    same grading run (median of ``repeats`` interleaved timings). The ``speed`` block of a
    topic in autograder.yml (validated there)."""

    __pydantic_config__ = {"extra": "forbid"}  # an unknown key in autograder.yml is an error

    min_ratio: float = 4.0
    repeats: int = 5

    def __post_init__(self) -> None:
        if not self.min_ratio > 0:
            raise ValueError("min_ratio must be greater than 0")
        if not 1 <= self.repeats <= 50:
            raise ValueError("repeats must be from 1 to 50")


@dataclass
class Context:
    """Everything a check may use. The reference module is trusted judge-side code."""

    topic: str
    student: StudentModule
    ref: ModuleType
    rng: np.random.Generator
    misconceptions: Sequence[Misconception]
    mutation_policy: str = "warn"
    speed: SpeedSettings = field(default_factory=SpeedSettings)


class Check(Protocol):
    """A check. It may also define ``unavailable() -> str | None``: the reason it cannot run on
    this machine (a GPU check without CUDA). Such a check is ``not_run`` for every submission,
    submitted or not, so that the maximum score is the same for everyone.

    ``hidden`` checks are graded with secret inputs and never shown to students or run by
    ``grader check``, whatever autograder.yml's rules say."""

    topic: str
    function: str
    case: str
    hidden: bool
    kind: Kind

    @property
    def id(self) -> str: ...

    def run(self, ctx: Context) -> Verdict: ...


HIDDEN = "hidden: "  # what a hidden check's id says before its case


def check_id(topic: str, function: str, case: str, hidden: bool = False) -> str:
    return f"{topic}/{function}: {HIDDEN if hidden else ''}{case}"


Make = Callable[[np.random.Generator], tuple]  # the inputs of one call, drawn from the check's rng


@dataclass(frozen=True)
class Case:
    """A named input case of a suite of checks (``hidden`` cases are graded, never shown)."""

    name: str
    make: Make
    hidden: bool = False


class Declared:
    """Base of the check declarations: the id derives from topic, function, case and hidden.

    Declarations are frozen dataclasses; ``hidden`` and tolerances are keyword-only fields
    (after ``_: KW_ONLY``), so a declaration reads ``Reference(..., tol=1e-6, hidden=True)``.
    """

    topic: str
    function: str
    case: str
    hidden: bool = False

    @property
    def id(self) -> str:
        return check_id(self.topic, self.function, self.case, self.hidden)

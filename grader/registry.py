"""The one source of topic, function and check names.

Each topic is a module in ``grader.topics`` declaring ``TOPIC``, ``FUNCTIONS``, ``checks()`` and
``MISCONCEPTIONS``. Check ids (``"<topic>/<function>: <case>"``) come from those declarations;
``autograder.yml`` keys points and visibility by them.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from functools import cache

from grader.checks.base import Check, Misconception

# Topics of the course, in teaching order. Those without a module yet are reported as unknown.
COURSE_TOPICS = (
    "losses",
    "backprop",
    "conv",
    "batchnorm",
    "optimizers",
    "dropout",
    "rnn",
    "quantization",
    "cuda_timing",
)


def _implemented() -> tuple[str, ...]:
    """The course topics that have a declaration module in ``grader.topics``."""
    return tuple(t for t in COURSE_TOPICS if importlib.util.find_spec(f"grader.topics.{t}"))


IMPLEMENTED = _implemented()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    misconceptions: tuple[Misconception, ...]

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)


class UnknownTopic(KeyError):
    def __str__(self) -> str:
        return f"unknown topic {self.args[0]!r}; available: {', '.join(IMPLEMENTED)}"


@cache
def topic(name: str) -> TopicSpec:
    if name not in IMPLEMENTED:
        raise UnknownTopic(name)
    module = importlib.import_module(f"grader.topics.{name}")
    checks = tuple(module.checks())
    ids = [c.id for c in checks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate check ids in topic {name}: {duplicates}")
    return TopicSpec(name, tuple(module.FUNCTIONS), checks, tuple(module.MISCONCEPTIONS))


def topics(names: tuple[str, ...] | None = None) -> list[TopicSpec]:
    return [topic(n) for n in (names or IMPLEMENTED)]

"""Where a batch's gradings run: threads of this judge, judge processes, or a Dask cluster.

``grader.batch`` decides on this machine what each submission needs (the journal says which
topics changed) and writes every report, journal and gradebook itself. An executor only runs
the gradings: it calls ``grade(course, submission, topics, sandbox)`` (``batch.grade_job``,
which never raises for anything a student did) for each ``Job``, somewhere, and hands each
outcome back to ``on_done(index, outcome)`` in the calling thread, as it completes. The outcome
is a ``batch.Graded`` or, when the executor lost the grading (a judge process that died, a task
Dask gave up on), the exception saying why: the batch turns it into that one submission's
"autograder failed" result, and the others go on.

An interrupt (KeyboardInterrupt in the calling thread: SIGINT, or SIGTERM through the CLI)
makes ``run`` stop every grading it started, kill their sandbox workers, and re-raise it; what
was handed to ``on_done`` before is complete.

Kinds (``--executor``):

- ``threads``: threads of this process (``executors.threads``); the default (``local``), see
  ``default_kind``.
- ``processes``: one judge process per job, started with ``spawn`` (``executors.processes``):
  the judges' own work is not serialised by one interpreter lock, and a judge that dies
  (a segfault) costs only the submission it was grading.
- ``dask``, ``dask-local``: tasks on a Dask cluster (``--scheduler ADDRESS``) or on a
  ``distributed.LocalCluster`` of ``--jobs`` worker processes (``executors.dask``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from grader.config import Course
from grader.layouts.kit import Submission
from grader.sandbox.process import Sandbox

KINDS = ("threads", "processes", "local", "dask", "dask-local")  # local: the default (threads)


class ExecutorError(Exception):
    """The executor cannot run at all (dask not installed, no scheduler, mismatched workers)."""


@dataclass(frozen=True)
class Job:
    """One submission and the topics to grade in it now."""

    sub: Submission
    topics: tuple[str, ...]


Grade = Callable[[Course, Submission, tuple[str, ...], Sandbox], Any]
OnDone = Callable[[int, Any], None]


class Executor(Protocol):
    name: str

    def run(
        self,
        grade: Grade,
        course: Course,
        sandbox: Sandbox,
        jobs: Sequence[Job],
        on_done: OnDone,
    ) -> None:
        """Grade every job; ``on_done(index, Graded | BaseException)`` once per job."""
        ...


def default_kind(jobs: int) -> str:
    """``threads`` for library callers (``grade_batch``), whatever ``jobs``; the command line
    (``grader grade --jobs N``, N > 1) uses ``cli_default_kind``."""
    return "threads"


def cli_default_kind(jobs: int) -> str | None:
    """``processes`` for ``grader grade --jobs N`` with N > 1: once workers were forked from
    templates and the reference's answers kept, the judge's own Python work dominates, and two
    judge processes beat two threads of one (the interpreter lock): 20 copies of alice, the
    whole course, ``--jobs 2`` on 2 cores, two interleaved pairs of runs at load about 2:
    30.5 and 30.2 s against 46.6 and 45.9 s. (Before those changes threads were as fast.)"""
    return "processes" if jobs > 1 else None


def make(kind: str | None, jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor ``kind`` (None or ``local``: ``default_kind(jobs)``) for ``jobs`` parallel
    gradings; ``scheduler`` is the Dask scheduler's address for ``dask``."""
    if kind in (None, "local"):
        kind = default_kind(jobs)
    jobs = max(1, jobs)
    if scheduler and kind != "dask":
        raise ExecutorError(f"--scheduler is for --executor dask, not {kind}")
    if kind == "threads":
        from grader.executors.threads import ThreadExecutor

        return ThreadExecutor(jobs)
    if kind == "processes":
        from grader.executors.processes import ProcessExecutor

        return ProcessExecutor(jobs)
    if kind in ("dask", "dask-local"):
        from grader.executors.dask import DaskExecutor

        if kind == "dask" and not scheduler:
            raise ExecutorError("--executor dask needs --scheduler ADDRESS (tcp://host:8786)")
        return DaskExecutor(jobs, scheduler=scheduler)
    raise ExecutorError(f"unknown executor {kind!r}; choose one of {', '.join(KINDS)}")
